/**
 * The TLS certificates page through app.request: each SMTP listener's certificate with its
 * subject, names and expiry; a listener object with its own certificate file shows that one
 * (set through the listener form, whose change the SMTP side applies live), one with a missing
 * file says which file and why; a certificate about to expire is marked.
 */
import { openManagement } from "../core/manage/mod.ts";
import { generateSelfSignedCert } from "./helpers/tls_cert.ts";
import { adminFixture, loginSession } from "./helpers/admin_fixture.ts";
import { assertEquals, assertMatch } from "./helpers/assert.ts";
import { tempDir } from "./helpers/net.ts";
import { adminApp } from "../routes/mod.ts";

Deno.test("console TLS page: subject, SAN and expiry per listener", async () => {
  await using dir = tempDir();
  const fixture = await adminFixture(dir.path);
  const { store, auth } = fixture;
  const management = openManagement(store);
  try {
    const pair = await generateSelfSignedCert({
      commonName: "mx.example.test",
      dnsNames: ["mx.example.test", "smtp.example.test"],
      ipAddresses: ["127.0.0.1"],
      days: 10,
    });
    await Deno.writeTextFile(`${dir.path}/own.crt`, pair.cert);
    await Deno.writeTextFile(`${dir.path}/own.key`, pair.key);
    // The node's default pair: made by ensureTlsFiles at start; here written as its files.
    const other = await generateSelfSignedCert({ commonName: "default.test", days: 400 });
    await Deno.mkdir(`${dir.path}/tls`, { recursive: true });
    await Deno.writeTextFile(fixture.config.smtp.tlsFiles.cert, other.cert);
    const admin = { name: "alice", role: "admin" as const, channel: "console" as const };
    await management.objects.listener.create({
      ip: "127.0.0.1",
      port: 2587,
      certificate: { cert_file: `${dir.path}/own.crt`, key_file: `${dir.path}/own.key` },
    }, admin);
    await management.objects.listener.create({
      ip: "127.0.0.1",
      port: 2465,
      certificate: { cert_file: `${dir.path}/missing.crt`, key_file: `${dir.path}/own.key` },
    }, admin);
    const web = adminApp({ ...fixture.context, management });
    const { status, html } = await (await loginSession(web, auth, "alice")).get("/config/tls");
    assertEquals(status, 200);
    const row = (listener: string) =>
      html.match(new RegExp(`data-listener="${listener}"[^]*?</tr>`))?.[0] ?? "";
    const own = row("127\\.0\\.0\\.1:2587");
    assertMatch(own, /CN=mx\.example\.test/);
    assertMatch(own, /data-san="yes"[^>]*>mx\.example\.test, smtp\.example\.test, 127\.0\.0\.1/);
    assertMatch(own, /data-expiry="soon"[^>]*>.*UTC \(9 days left\)/);
    assertMatch(
      row("127\\.0\\.0\\.1:2465"),
      /data-cert-error="yes"[^>]*>Cannot read &quot;[^&]*missing\.crt&quot;/,
    );
    const fileListener = row("127\\.0\\.0\\.1:2525");
    assertMatch(fileListener, /smtp\.tls \(default\)/);
    assertMatch(fileListener, /CN=default\.test/);
    assertMatch(fileListener, /data-expiry="ok"/);
  } finally {
    await store.close();
  }
});
