/**
 * Uploading TLS certificates on /config/tls through app.request on a real SQLite store: an admin
 * uploads a chain as a file and the key pasted (multipart, CSRF), sees it listed with the key
 * only as "set" and the listener naming it shows its subject; a refused upload names the field
 * and never renders the key back; an existing name is replaced only when "Replace" is ticked;
 * a viewer sees no form and cannot post; a post without the CSRF token is refused; delete asks
 * first.
 */
import { openManagement } from "../core/manage/mod.ts";
import { makeSelfSignedCert } from "../core/inbound/self_signed.ts";
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { adminFixture, consoleSession } from "./helpers/admin_fixture.ts";
import { tempDir } from "./helpers/net.ts";
import { adminApp } from "../routes/mod.ts";

Deno.test("console TLS page: upload, replace, field errors, roles, CSRF, delete", async () => {
  await using dir = tempDir();
  const fixture = await adminFixture(dir.path);
  const { store, auth } = fixture;
  const management = openManagement(store);
  try {
    const web = adminApp({ ...fixture.context, management });
    const admin = await consoleSession(web, auth, "ada", "admin");
    const viewer = await consoleSession(web, auth, "vera", "viewer");
    const { get } = admin;
    // The upload form is multipart: a chain or key may come as a file.
    const upload = async (fields: Record<string, string | File>, who = admin, csrf = true) =>
      await who.post("/config/tls", fields, { multipart: true, csrf: csrf ? "form" : "none" });
    const first = await makeSelfSignedCert("first.example.test");
    const second = await makeSelfSignedCert("second.example.test");
    const keyLine = (key: string) => key.split("\n")[1];
    await management.objects.listener.create(
      { ip: "127.0.0.1", port: 2587, tls_certificate: "mx" },
      { name: "t", role: "admin", channel: "api" },
    );

    const empty = await get("/config/tls");
    assertMatch(empty.html, /data-form="tls-upload"/);
    assertMatch(empty.html, /No TLS certificate &quot;mx&quot; is stored/);

    // A key that is not the certificate's: the field is named, the key is not shown again.
    const bad = await upload({ name: "mx", certificate: first.cert, private_key: second.key });
    assertEquals(bad.status, 400);
    assertMatch(bad.html, /data-error-for="err-private_key"[^>]*>The private key does not belong/);
    assert(!bad.html.includes(keyLine(second.key)), "the key is not rendered back");
    assertMatch(bad.html, /value="mx"/);
    assertEquals((await management.objects.tls_certificate.list({})).items.length, 0);

    const ok = await upload({
      name: "mx",
      certificate_file: new File([first.cert], "chain.pem"),
      private_key: first.key,
    });
    assertEquals(ok.status, 302, ok.html);
    const listed = await get(ok.location!);
    assertMatch(listed.html, /data-managed="mx"[^]*?CN=first\.example\.test[^]*?data-key="set"/);
    assertMatch(listed.html, /data-listener="127\.0\.0\.1:2587"[^]*?CN=first\.example\.test/);
    assert(!listed.html.includes(keyLine(first.key)), "the key is not on the page");

    // The same name again: refused unless "Replace" is ticked.
    const again = await upload({ name: "mx", certificate: second.cert, private_key: second.key });
    assertEquals(again.status, 400);
    assertMatch(again.html, /exists: tick &quot;Replace&quot;/);
    const replaced = await upload({
      name: "mx",
      certificate: second.cert,
      private_key_file: new File([second.key], "key.pem"),
      replace: "yes",
    });
    assertEquals(replaced.status, 302, replaced.html);
    assertMatch((await get("/config/tls")).html, /data-managed="mx"[^]*?CN=second\.example/);

    // A viewer sees the list, no form, and cannot post; no CSRF token: refused.
    const seen = await viewer.get("/config/tls");
    assertEquals(seen.status, 200);
    assert(!seen.html.includes('data-form="tls-upload"'), "no form for a viewer");
    const forbidden = { name: "v", certificate: first.cert, private_key: first.key };
    assertEquals((await upload(forbidden, viewer)).status, 403);
    assertEquals((await upload(forbidden, admin, false)).status, 403);
    assertEquals(await management.objects.tls_certificate.get("v"), null);

    // Delete asks first, then removes.
    const confirm = await get("/config/tls/delete?name=mx");
    assertMatch(confirm.html, /role="alertdialog"[^]*Delete the TLS certificate “mx”/);
    const deleted = await admin.post("/config/tls/delete?name=mx", { _version: "2" });
    assertEquals(deleted.status, 302);
    assertEquals(await management.objects.tls_certificate.get("mx"), null);
  } finally {
    await store.close();
  }
});
