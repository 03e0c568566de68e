/**
 * The REST API send endpoint (`POST /api/v1/messages`): who may send and what each refusal
 * looks like through `app.request()` on a real temp SQLite store, then end to end: keys made and
 * removed with the CLI, a real server process, and the messages arriving at an SMTP sink.
 */
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { E2E_DOMAIN as DOMAIN, startE2eFixture } from "./helpers/e2e_fixture.ts";
import { tempDir } from "./helpers/net.ts";
import {
  adminApi,
  type CliResult,
  runCli,
  type ServerConfig,
  type ServerProcess,
} from "./helpers/server_process.ts";
import type { SmtpSink } from "./helpers/smtp_sink.ts";
import { parseConfig } from "../core/config/mod.ts";
import { openStore, type SqlStore, StoreUnavailableError } from "../core/store/mod.ts";
import { AdminAuth } from "../core/auth/admin.ts";
import { addApiKey } from "../core/auth/api_keys.ts";
import type { NewMessage } from "../core/contracts/mod.ts";
import { adminApp } from "../routes/mod.ts";

const ADMIN_TOKEN = "route-test-token-0123456789";

/** An app on a migrated temp store with one API key; `accepted` collects what was submitted. */
async function routeSetup(dir: string, accept: "ok" | "refuse" = "ok") {
  const config = parseConfig({
    data_dir: dir,
    admin: { api_tokens: [ADMIN_TOKEN] },
    smtp: { hostname: "mx.test", max_message_size: 10_000, max_recipients: 3 },
  });
  const store = await openStore(config, "admin");
  await store.migrate();
  const auth = new AdminAuth(store);
  await auth.addUser("alice", "correct horse battery");
  const key = await addApiKey(store, "ci");
  const accepted: NewMessage[] = [];
  const app = adminApp({
    config,
    store,
    auth,
    startedAt: Date.now(),
    accept: {
      submit: (message) => {
        if (accept === "refuse") return Promise.reject(new Error("RabbitMQ is unavailable"));
        accepted.push(message);
        return Promise.resolve(message.id);
      },
    },
  });
  return { app, store, auth, key, accepted };
}

function post(body: unknown, headers: Record<string, string> = {}): RequestInit {
  return {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  };
}

const RAW = "From: <a@origin.test>\r\nTo: <b@dest.test>\r\nSubject: raw\r\n\r\nHello.\r\n";

Deno.test("send API: an API key sends; the message is channel api with the key's name", async () => {
  await using dir = tempDir();
  const { app, store, key, accepted } = await routeSetup(dir.path);
  try {
    const bearer = { authorization: `Bearer ${key}` };
    const response = await app.request(
      "/api/v1/messages",
      post({ from: "a@origin.test", to: ["b@dest.test"], raw: RAW, metadata: { n: 1 } }, bearer),
    );
    assertEquals(response.status, 202);
    const body = await response.json();
    assertEquals(accepted.length, 1);
    assertEquals(body, { id: accepted[0].id, recipients: 1 });
    const [message] = accepted;
    assertEquals(message.channel, "api");
    assertEquals(message.sender, "a@origin.test");
    assertEquals(message.recipients, ["b@dest.test"]);
    assertEquals(message.meta, { metadata: { n: 1 }, api_key: "ci" });
    assertEquals((await store.listApiKeys())[0].name, "ci");
  } finally {
    await store.close();
  }
});

Deno.test("send API: no key or a wrong one 401; a session (even with CSRF) or an admin token 403", async () => {
  await using dir = tempDir();
  const { app, store, auth, accepted } = await routeSetup(dir.path);
  try {
    const doc = { from: "a@origin.test", to: ["b@dest.test"], text: "hi" };
    const none = await app.request("/api/v1/messages", post(doc));
    assertEquals(none.status, 401);
    assertEquals(none.headers.get("www-authenticate"), 'Bearer realm="fastmta"');
    const wrong = await app.request(
      "/api/v1/messages",
      post(doc, { authorization: `Bearer fmk_${"A".repeat(43)}` }),
    );
    assertEquals(wrong.status, 401);
    assertMatch(wrong.headers.get("www-authenticate") ?? "", /error="invalid_token"/);
    const admin = await app.request(
      "/api/v1/messages",
      post(doc, { authorization: `Bearer ${ADMIN_TOKEN}` }),
    );
    assertEquals(admin.status, 403, "admin tokens read the console API; they do not send");

    const token = (await auth.login("alice", "correct horse battery"))!;
    const session = (await auth.session(token))!;
    const cookie = { cookie: `fastmta_session=${token}`, "x-csrf-token": session.csrfToken };
    assertEquals((await app.request("/api/v1/messages", post(doc, cookie))).status, 403);
    assertEquals(accepted.length, 0);
    // The read API beside it still takes the session and the admin token.
    assertEquals((await app.request("/api/v1/messages", { headers: cookie })).status, 200);
    const read = await app.request("/api/v1/messages", {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    assertEquals(read.status, 200);
  } finally {
    await store.close();
  }
});

Deno.test("send API: 400 names the field, 413 for too large, 503 when it cannot be queued", async () => {
  await using dir = tempDir();
  const { app, store, key, accepted } = await routeSetup(dir.path);
  const bearer = { authorization: `Bearer ${key}` };
  const error = async (body: unknown, status: number) => {
    const response = await app.request("/api/v1/messages", post(body, bearer));
    assertEquals(response.status, status, JSON.stringify(body).slice(0, 80));
    return (await response.json()).detail as string;
  };
  try {
    assertMatch(await error("{not json", 400), /^not UTF-8 JSON/);
    assertMatch(await error({ from: "a@origin.test", to: "b@dest.test", text: "x" }, 400), /"to"/);
    assertMatch(await error({ from: "nope", to: ["b@dest.test"], text: "x" }, 400), /"from"/);
    assertMatch(
      await error(
        { from: "", to: ["a@d.test", "b@d.test", "c@d.test", "e@d.test"], text: "x" },
        400,
      ),
      /too many recipients: 4 \(at most 3\)/,
    );
    assertMatch(
      await error(
        { from: "", to: ["b@dest.test"], text: "x", headers: { "X-A": "1\r\nBcc: x" } },
        400,
      ),
      /invalid "headers.X-A": CR and LF/,
    );
    // Over max_message_size (10 000): as raw text, as a composed text, as a document.
    const big = "x".repeat(12_000);
    assertMatch(await error({ from: "", to: ["b@dest.test"], raw: big }, 413), /too large/);
    assertMatch(await error({ from: "", to: ["b@dest.test"], text: big }, 413), /too large/);
    assertMatch(
      await error({ from: "", to: ["b@dest.test"], raw: "y".repeat(200_000) }, 413),
      /^Request body too large/,
    );
    assertEquals(accepted.length, 0);
  } finally {
    await store.close();
  }

  await using other = tempDir();
  const refusing = await routeSetup(other.path, "refuse");
  try {
    const response = await refusing.app.request(
      "/api/v1/messages",
      post({ from: "", to: ["b@dest.test"], text: "x" }, {
        authorization: `Bearer ${refusing.key}`,
      }),
    );
    assertEquals(response.status, 503);
    assertEquals(response.headers.get("retry-after"), "5");
    assertMatch((await response.json()).detail, /queue is unavailable/);
  } finally {
    await refusing.store.close();
  }
});

Deno.test("send API: a database that cannot check the key is a 503, not a 401", async () => {
  await using dir = tempDir();
  const { store, auth, key } = await routeSetup(dir.path);
  try {
    const down: SqlStore = Object.create(store, {
      apiKeyByHash: { value: () => Promise.reject(new StoreUnavailableError("database down")) },
    });
    const app = adminApp({
      config: parseConfig({ data_dir: dir.path }),
      store: down,
      auth,
      startedAt: Date.now(),
      accept: { submit: (m) => Promise.resolve(m.id) },
    });
    const response = await app.request(
      "/api/v1/messages",
      post({ from: "", to: ["b@dest.test"], text: "x" }, { authorization: `Bearer ${key}` }),
    );
    assertEquals(response.status, 503);
  } finally {
    await store.close();
  }
});

/** A sink behind a loopback DNS server and the config of a node that delivers to it. */
interface ApiNode extends AsyncDisposable {
  sink: SmtpSink;
  config: ServerConfig;
  /** Runs `main.ts ARGS --config <this node's config>`. */
  cli(args: string[], stdin?: string): Promise<CliResult>;
  /** Starts the server and waits until its admin HTTP listener (the API) accepts connections. */
  start(): Promise<ServerProcess>;
}

/** With `distributed`: RabbitMQ (a vhost of its own) and the shared PostgreSQL database. */
async function apiNode(options: { distributed?: boolean } = {}): Promise<ApiNode> {
  const e2e = await startE2eFixture({ prefix: "fastmta-api-", distributed: options.distributed });
  try {
    const config = e2e.nodeConfig();
    config.smtp.max_message_size = 100_000;
    // The scheduler's idle poll is longer than the tests wait for the sink: mail arrives in time
    // only if the API's commit wakes the scheduler (RabbitMQ pushes units by itself).
    config.queue = { poll_interval: "60s" };
    const configPath = await e2e.writeConfig(config);
    // Keys are added before the server first starts; only serve and migrate create the schema.
    const migrated = await runCli(["migrate", "--config", configPath]);
    assertEquals(migrated.code, 0, migrated.stderr);
    return {
      sink: e2e.sink,
      config,
      cli: (args, stdin) => runCli([...args, "--config", configPath], { stdin }),
      // The fixture waits for the admin HTTP listener (the API) too.
      start: () => e2e.start(config),
      [Symbol.asyncDispose]: () => e2e[Symbol.asyncDispose](),
    };
  } catch (error) {
    await e2e[Symbol.asyncDispose]();
    throw error;
  }
}

Deno.test("send API end to end: CLI keys, raw and composed messages reach the sink", async () => {
  await using node = await apiNode();
  const { sink, cli } = node;

  const added = await cli(["apikey", "add", "shop"]);
  assertEquals(added.code, 0, added.stderr);
  const key = added.stdout.trim();
  assertMatch(key, /^fmk_[A-Za-z0-9_-]{43}$/);
  assertMatch(added.stderr, /added API key "shop" with role sender \(shown once/);
  assertEquals((await cli(["apikey", "add", "shop"])).code, 1, "the name is taken");
  assertEquals((await cli(["apikey", "add", "bad name"])).code, 2);
  assertEquals((await cli(["admin", "add", "alice"], "correct horse battery\n")).code, 0);

  await using server = await node.start();
  const url = `${server.adminUrl}/api/v1/messages`;
  const send = (body: unknown, headers: Record<string, string> = {}) =>
    fetch(url, post(body, { authorization: `Bearer ${key}`, ...headers }));

  const raw = [
    "From: Shop <news@origin.test>",
    `To: <one@${DOMAIN}>`,
    "Subject: raw via the API",
    "",
    "Hello over HTTP.",
    ".a line that starts with a dot",
    "",
  ].join("\r\n");
  const first = await send({ from: "news@origin.test", to: [`one@${DOMAIN}`], raw });
  assertEquals(first.status, 202);
  const firstBody = await first.json();
  assertEquals(firstBody.recipients, 1);
  const second = await send({
    from: "news@origin.test",
    to: [`two@${DOMAIN}`, `three@${DOMAIN}`],
    subject: "Composed",
    text: "Thank you!",
    html: "<p>Thank you!</p>",
    headers: { "X-Campaign": "orders" },
  });
  assertEquals(second.status, 202);
  const secondBody = await second.json();
  assertEquals(secondBody.recipients, 2);

  const messages = await sink.waitForMessages(2, 20_000);
  const byRecipient = (address: string) => messages.find((m) => m.rcptTo.includes(address))!;
  const one = byRecipient(`one@${DOMAIN}`);
  assertEquals(one.mailFrom, "news@origin.test");
  assertEquals(one.rcptTo, [`one@${DOMAIN}`]);
  assertMatch(
    one.text(),
    new RegExp(
      `^Received: from .*\\r\\n\\tby mx\\.fastmta\\.test \\(fastmta\\) with HTTP id ${firstBody.id}\\r\\n\\tfor <one@${DOMAIN}>;`,
    ),
  );
  assert(one.text().endsWith(raw), "the raw message follows our Received header unchanged");
  const two = byRecipient(`two@${DOMAIN}`);
  assertEquals(two.mailFrom, "news@origin.test");
  assertEquals(two.rcptTo.toSorted(), [`three@${DOMAIN}`, `two@${DOMAIN}`]);
  assertMatch(two.text(), new RegExp(`with HTTP id ${secondBody.id};`));
  assertMatch(two.text(), /\r\nSubject: Composed\r\n/);
  assertMatch(two.text(), /\r\nX-Campaign: orders\r\n/);
  assertMatch(two.text(), /Content-Type: multipart\/alternative/);
  assertMatch(two.text(), /\r\n\r\nThank you!\r\n/);
  const status = await adminApi<{ channel: string }>(server, `/api/v1/messages/${firstBody.id}`);
  assertEquals(status.body.channel, "api");

  // Refusals.
  const noKey = await fetch(url, post({ from: "", to: [`one@${DOMAIN}`], text: "x" }));
  assertEquals(noKey.status, 401);
  assertEquals(noKey.headers.get("www-authenticate"), 'Bearer realm="fastmta"');
  await noKey.body?.cancel();
  const wrongKey = await send({ from: "", to: [`one@${DOMAIN}`], text: "x" }, {
    authorization: `Bearer fmk_${"B".repeat(43)}`,
  });
  assertEquals(wrongKey.status, 401);
  await wrongKey.body?.cancel();
  const invalid = await send({ from: "", to: [`one@${DOMAIN}`], text: 42 });
  assertEquals(invalid.status, 400);
  assertMatch((await invalid.json()).detail, /invalid "text": expected a string/);
  const oversized = await send({ from: "", to: [`one@${DOMAIN}`], raw: "z".repeat(120_000) });
  assertEquals(oversized.status, 413);
  await oversized.body?.cancel();
  const huge = await send({ from: "", to: [`one@${DOMAIN}`], raw: "z".repeat(300_000) });
  assertEquals(huge.status, 413);
  assertMatch((await huge.json()).detail, /^Request body too large/);

  // A console session (logged in through the form) cannot send.
  const loginPage = await fetch(`${server.adminUrl}/login`);
  const loginCookie = loginPage.headers.getSetCookie().find((c) => c.startsWith("fastmta_login="))!
    .split(";")[0];
  const loginCsrf = (await loginPage.text()).match(/name="_csrf" value="([^"]+)"/)![1];
  const login = await fetch(`${server.adminUrl}/login`, {
    method: "POST",
    redirect: "manual",
    headers: { cookie: loginCookie },
    body: new URLSearchParams({
      _csrf: loginCsrf,
      username: "alice",
      password: "correct horse battery",
    }),
  });
  assertEquals(login.status, 302);
  await login.body?.cancel();
  const session = login.headers.getSetCookie().find((c) => c.startsWith("fastmta_session="))!
    .split(";")[0];
  const bySession = await fetch(
    url,
    post({ from: "", to: [`one@${DOMAIN}`], text: "x" }, { cookie: session }),
  );
  assertEquals(bySession.status, 403, "a console session never sends");
  await bySession.body?.cancel();

  // list shows the key and its use; a removed key is refused at once.
  const list = await cli(["apikey", "list", "--json"]);
  assertEquals(list.code, 0, list.stderr);
  const keys = JSON.parse(list.stdout);
  assertEquals(keys.map((k: { name: string }) => k.name), ["shop"]);
  assertEquals(typeof keys[0].last_used_at, "number");
  assertEquals(keys[0].role, "sender");
  assert(!list.stdout.includes(key), "the key itself is never shown again");
  assertEquals((await cli(["apikey", "remove", "shop"])).code, 0);
  assertEquals((await cli(["apikey", "remove", "shop"])).code, 1);
  const removed = await send({ from: "", to: [`one@${DOMAIN}`], text: "x" });
  assertEquals(removed.status, 401);
  await removed.body?.cancel();
  assertEquals(sink.messages.length, 2, "nothing but the two accepted messages was sent");

  // Shutdown closes the API's accept path after the HTTP server and exits cleanly.
  const stopped = await server.stop();
  assertEquals(stopped.code, 0, server.logs());
  assertMatch(server.logs(), /serve: stopped/);
});

Deno.test("send API in distributed mode: 202 once committed and confirmed, then delivered", async () => {
  await using node = await apiNode({ distributed: true });
  const added = await node.cli(["apikey", "add", "shop"]);
  assertEquals(added.code, 0, added.stderr);
  await using server = await node.start();
  const response = await fetch(
    `${server.adminUrl}/api/v1/messages`,
    post(
      { from: "news@origin.test", to: [`one@${DOMAIN}`], subject: "Via RabbitMQ", text: "Hi." },
      {
        authorization: `Bearer ${added.stdout.trim()}`,
      },
    ),
  );
  assertEquals(response.status, 202, server.logs());
  const { id } = await response.json();
  const [message] = await node.sink.waitForMessages(1, 20_000);
  assertEquals(message.rcptTo, [`one@${DOMAIN}`]);
  assertMatch(message.text(), new RegExp(`with HTTP id ${id}\\r\\n\\tfor <one@${DOMAIN}>;`));
  assertMatch(message.text(), /\r\nSubject: Via RabbitMQ\r\n/);
});
