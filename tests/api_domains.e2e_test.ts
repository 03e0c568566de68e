/**
 * /api/v1/domains and /api/v1/suppressions on a running server: a domain created over REST has
 * its DNS records and rotation; a suppression posted over REST holds for the next message sent;
 * CSV export and import; bad input is a 400 naming the field and changes nothing; snake_case.
 */
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { E2E_DOMAIN, startE2eFixture } from "./helpers/e2e_fixture.ts";
import { runCli, TEST_API_TOKEN } from "./helpers/server_process.ts";
import { waitUntil } from "./helpers/wait.ts";

Deno.test("api: domains and suppressions over REST, applied by the engine", async () => {
  await using e2e = await startE2eFixture({ prefix: "fastmta-api-domains-" });
  const config = { ...e2e.nodeConfig(), queue: { poll_interval: "200ms" } };
  const configPath = await e2e.writeConfig(config);
  const server = await e2e.start(config);
  const call = async (method: string, path: string, body?: unknown, type = "application/json") => {
    const response = await fetch(`${server.adminUrl}/api/v1${path}`, {
      method,
      headers: {
        authorization: `Bearer ${TEST_API_TOKEN}`,
        ...(body === undefined ? {} : { "content-type": type }),
      },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    });
    const text = await response.text();
    const isJson = (response.headers.get("content-type") ?? "").includes("json");
    return { status: response.status, body: isJson && text ? JSON.parse(text) : text };
  };

  const created = await call("POST", "/domains", { name: "origin.test", dkim: { selector: "k1" } });
  assertEquals(created.status, 201, JSON.stringify(created.body));
  assertEquals(created.body.body.dkim_keys[0].dns_name, "k1._domainkey.origin.test");
  const dns = await call("GET", "/domains/origin.test/dns");
  assertEquals(dns.body.records.map((r: { purpose: string }) => r.purpose), [
    "dkim",
    "spf",
    "dmarc",
  ]);
  const rotated = await call("POST", "/domains/origin.test/rotate", { selector: "k2" });
  assertEquals([rotated.status, rotated.body.selector, rotated.body.retired], [200, "k2", ["k1"]]);
  const bad = await call("POST", "/domains", { name: "not a domain" });
  assertEquals(bad.status, 400);
  assertEquals(bad.body.errors[0].path, "name");

  const suppressed = await call("POST", "/suppressions", {
    address: `Stop@${E2E_DOMAIN}`,
    reason: "asked over the API",
  });
  assertEquals(suppressed.status, 201, JSON.stringify(suppressed.body));
  assertEquals(suppressed.body.body.source, "api");
  assertEquals(suppressed.body.id, `stop@${E2E_DOMAIN}`);
  const badEntry = await call("POST", "/suppressions", { address: "x", expires_at: "soon" });
  assertEquals(badEntry.status, 400);
  assertEquals(badEntry.body.errors.map((e: { path: string }) => e.path).toSorted(), [
    "address",
    "expires_at",
  ]);

  // The engine honours the new entry for the next message.
  const sent = await runCli(
    ["send", "--config", configPath, "--from", "shop@origin.test", `stop@${E2E_DOMAIN}`],
    { stdin: "Subject: s\n\nbody\n" },
  );
  assertEquals(sent.code, 0, sent.stderr);
  const id = sent.stdout.trim();
  await waitUntil(async () => {
    const status = await call("GET", `/messages/${id}`);
    return JSON.stringify(status.body).includes('"suppressed"');
  }, { timeoutMs: 60_000, message: "the recipient suppressed" });
  assertEquals(e2e.sink.messages.length, 0);

  const csv = await call("GET", "/suppressions/export");
  assertMatch(csv.body, /^address,scope,source,reason,expires_at,created_at\n/);
  assert(csv.body.includes(`stop@${E2E_DOMAIN},,api,asked over the API,,`));
  const imported = await call(
    "POST",
    "/suppressions/import",
    "address,reason\nimported@dest.test,from a CSV\n",
    "text/csv",
  );
  assertEquals([imported.status, imported.body], [200, { imported: 1 }]);
  const listed = await call("GET", "/suppressions");
  assertEquals(listed.body.items.map((i: { id: string }) => i.id), [
    `imported@${E2E_DOMAIN}`,
    `stop@${E2E_DOMAIN}`,
  ]);
  const removed = await call("DELETE", `/suppressions/imported@${E2E_DOMAIN}`);
  assertEquals(removed.status, 204);

  // API keys: the key is in the answer to its creation only, and works with its role.
  const key = await call("POST", "/api-keys", { name: "reporting", role: "viewer" });
  assertEquals(key.status, 201, JSON.stringify(key.body));
  assertMatch(key.body.body.key, /^fmk_/);
  const keys = await call("GET", "/api-keys");
  assertEquals(keys.body.items.map((k: { body: object }) => Object.keys(k.body).sort()), [
    ["created_at", "last_used_at", "name", "role"],
  ]);
  const asViewer = await fetch(`${server.adminUrl}/api/v1/domains`, {
    headers: { authorization: `Bearer ${key.body.body.key}` },
  });
  assertEquals(asViewer.status, 200);
  await asViewer.body?.cancel();
  const viewerWrite = await fetch(`${server.adminUrl}/api/v1/suppressions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key.body.body.key}`, "content-type": "application/json" },
    body: JSON.stringify({ address: "v@dest.test" }),
  });
  assertEquals(viewerWrite.status, 403);
  await viewerWrite.body?.cancel();

  // SMTP users: the password is hashed and never shown; bad input names the field.
  const user = await call("POST", "/smtp-users", { username: "app", password: "s3cret-pass" });
  assertEquals(user.status, 201, JSON.stringify(user.body));
  assert(!JSON.stringify(user.body).includes("s3cret"));
  const badUser = await call("POST", "/smtp-users", { username: "has space", password: "" });
  assertEquals(badUser.body.errors.map((e: { path: string }) => e.path).toSorted(), [
    "password",
    "username",
  ]);
  const limited = await call("PATCH", "/smtp-users/app", { max_recipients: 5 });
  assertEquals([limited.status, limited.body.body.max_recipients], [200, 5]);
  const audit = await call("GET", "/audit?limit=50");
  const actions = audit.body.items.map((e: { kind: string; action: string }) =>
    `${e.kind} ${e.action}`
  );
  for (
    const expected of [
      "domain create",
      "domain rotate",
      "suppression import",
      "api_key create",
      "smtp_user create",
    ]
  ) {
    assert(actions.includes(expected), `${expected} in ${actions}`);
  }
  assert(!JSON.stringify(audit.body).includes(key.body.body.key), "no key in the audit log");
});
