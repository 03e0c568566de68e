/**
 * Managed TLS certificates (core/manage/tls_certificate_kind.ts, tls_files.ts): input checked
 * with the field named (PEM parses, key matches, not expired), the private key never in what a
 * face reads, the audit or a log line, written to the data folder (key 0600) under a content
 * name so that a replacement changes the listener's certificate path, stale files removed, and
 * a listener naming a missing certificate left unbound.
 */
import { assert, assertEquals, assertRejects } from "./helpers/assert.ts";
import { withStore } from "./helpers/store_contract.ts";
import { type Actor, openManagement, ValidationError } from "../core/manage/mod.ts";
import { makeSelfSignedCert } from "../core/inbound/self_signed.ts";
import { managedParts } from "../core/manage/live_state.ts";
import { writeManagedCertificates } from "../core/manage/tls_files.ts";
import { summarize } from "../core/manage/tls_certificate_kind.ts";
import type { ConfigObjectRecord } from "../core/store/mod.ts";

const ADMIN: Actor = { name: "t", role: "admin", channel: "api" };

function record(kind: string, id: string, body: unknown): ConfigObjectRecord {
  return {
    kind,
    id,
    version: 1,
    body: JSON.stringify(body),
    deleted: false,
    updatedAt: 0,
    updatedBy: "t",
  };
}

async function issuesOf(fn: () => Promise<unknown>): Promise<Record<string, string>> {
  const error = await assertRejects(fn);
  assert(error instanceof ValidationError, String(error));
  return Object.fromEntries(error.issues.map((i) => [i.path, i.message]));
}

Deno.test({
  name: "tls certificates: validated with the field named, the key never shown",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withStore("sqlite3", async (store) => {
      const logs: string[] = [];
      const m = openManagement(store, { log: (l) => logs.push(l) });
      const pair = await makeSelfSignedCert("mx.example.test");
      const other = await makeSelfSignedCert("other.example.test");
      const expired = await makeSelfSignedCert("old.example.test", {
        days: 1,
        now: new Date(Date.now() - 10 * 86_400_000),
      });
      const service = m.objects.tls_certificate;

      let issues = await issuesOf(() =>
        service.create({ name: "a", certificate: "nope", private_key: pair.key }, ADMIN)
      );
      assert(/PEM certificate/.test(issues.certificate), JSON.stringify(issues));
      issues = await issuesOf(() =>
        service.create({ name: "a", certificate: pair.cert, private_key: "nope" }, ADMIN)
      );
      assert(/PEM private key/.test(issues.private_key), JSON.stringify(issues));
      issues = await issuesOf(() =>
        service.create({ name: "a", certificate: pair.cert, private_key: other.key }, ADMIN)
      );
      assert(/does not belong/.test(issues.private_key), JSON.stringify(issues));
      issues = await issuesOf(() =>
        service.create({ name: "a", certificate: expired.cert, private_key: expired.key }, ADMIN)
      );
      assert(/expired/.test(issues.certificate), JSON.stringify(issues));
      const broken = pair.key.replace(/\n[A-Za-z0-9+/]{10}/, "\n!!!!!!!!!!");
      issues = await issuesOf(() =>
        service.create({ name: "a", certificate: pair.cert, private_key: broken }, ADMIN)
      );
      assert(!issues.private_key.includes(broken.slice(30, 60)), "no key text in the message");
      assertEquals(await service.get("a"), null, "nothing stored");

      const created = await service.create(
        { name: "mx", certificate: pair.cert, private_key: pair.key },
        ADMIN,
      );
      assertEquals(created.body.private_key, "********");
      assertEquals(created.body.certificate, pair.cert);
      // Replacing the certificate with a different pair, and sending the key back redacted.
      await assertRejects(
        () => service.update("mx", { ...created.body, certificate: other.cert }, ADMIN),
      );
      await service.update(
        "mx",
        { name: "mx", certificate: other.cert, private_key: other.key },
        ADMIN,
      );
      // A base64 line of the key: found in any JSON or log text that holds the key.
      const keyBody = (k: string) => k.split("\n")[1];
      const faces = JSON.stringify([
        await service.get("mx"),
        await service.list({}),
        await m.audit.list({ kind: "tls_certificate" }),
        logs,
      ]);
      for (const key of [pair.key, other.key]) {
        assert(!faces.includes(keyBody(key)), "the key is in no face, audit or log");
      }
      assert(
        (await store.configObject("tls_certificate", "mx"))?.body.includes(keyBody(other.key)),
      );
      assertEquals(summarize(other.cert)?.san, ["other.example.test"]);

      issues = await issuesOf(() =>
        m.objects.listener.create({
          ip: "127.0.0.1",
          port: 2600,
          tls_certificate: "mx",
          certificate: { cert_file: "/a", key_file: "/b" },
        }, ADMIN)
      );
      assert(/Not allowed together/.test(issues.tls_certificate), JSON.stringify(issues));
    }),
});

Deno.test("tls certificates: written to the data folder, replaced by a new path, stale removed", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "fastmta-tlsfiles-" });
  try {
    const first = await makeSelfSignedCert("a.example.test");
    const second = await makeSelfSignedCert("b.example.test");
    const listener = record("listener", "127.0.0.1:2600", {
      ip: "127.0.0.1",
      port: 2600,
      tls_certificate: "mx",
      enabled: true,
    });
    const cert = (pair: { cert: string; key: string }) =>
      record("tls_certificate", "mx", {
        name: "mx",
        certificate: pair.cert,
        private_key: pair.key,
      });
    const logs: string[] = [];

    const none = managedParts([listener], "n1", Date.now(), new Map());
    assertEquals(none.listeners, [], "a listener naming a missing certificate is not bound");

    const objects = [listener, cert(first)];
    const files = writeManagedCertificates(objects, dataDir, (l) => logs.push(l));
    const paths = files.get("mx")!;
    assertEquals(await Deno.readTextFile(paths.key), first.key);
    assertEquals(await Deno.readTextFile(paths.cert), first.cert);
    assertEquals((await Deno.stat(paths.key)).mode! & 0o777, 0o600);
    const parts = managedParts(objects, "n1", Date.now(), files);
    assertEquals(parts.listeners[0].certificate, paths);

    // smtp.tls.certificate: a listener without its own serves it; one with files keeps them.
    const plain = record("listener", "127.0.0.1:2525", {
      ip: "127.0.0.1",
      port: 2525,
      enabled: true,
    });
    const own = record("listener", "127.0.0.1:2465", {
      ip: "127.0.0.1",
      port: 2465,
      enabled: true,
      certificate: { cert_file: "/own.crt", key_file: "/own.key" },
    });
    const withDefault = managedParts([plain, own], "n1", Date.now(), files, "mx").listeners;
    assertEquals(withDefault.map((l) => l.certificate?.cert), ["/own.crt", paths.cert]);
    const notStored = managedParts([plain], "n1", Date.now(), new Map(), "mx").listeners;
    assertEquals(notStored[0].certificate, undefined, "the smtp.tls files meanwhile");

    const replaced = writeManagedCertificates(
      [listener, cert(second)],
      dataDir,
      (l) => logs.push(l),
    );
    const next = replaced.get("mx")!;
    assert(next.cert !== paths.cert, "a new content, a new path (the listener rebinds)");
    assertEquals(await Deno.readTextFile(next.key), second.key);
    await assertRejects(() => Deno.stat(paths.key));

    writeManagedCertificates([listener], dataDir, (l) => logs.push(l));
    await assertRejects(() => Deno.stat(next.key));
    assertEquals(logs, []);
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});
