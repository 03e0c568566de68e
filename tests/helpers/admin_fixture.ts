/**
 * A console/API app over a real temp SQLite store holding one of everything the JSON API shows:
 * a message with a delivered and a deferred recipient (so attempts), a message whose unit is
 * quarantined, and a registered node. Times are fixed, so pages and answers are repeatable.
 */
import { parseConfig } from "../../core/config/mod.ts";
import { openStore, type SqlStore } from "../../core/store/mod.ts";
import { AdminAuth } from "../../core/auth/admin.ts";
import { nodesOf } from "../../core/cluster/mod.ts";
import type { NewMessage, UnitOutcome } from "../../core/contracts/mod.ts";
import { adminApp, type AdminContext } from "../../routes/mod.ts";

/** The fixed clock the seeded rows use. */
export const T0 = Date.UTC(2026, 0, 2, 3, 4, 5);
/** The bearer token the fixture's config accepts. */
export const ADMIN_TOKEN = "admin-fixture-token-0123456789";
/** The seeded messages. */
export const DELIVERED_ID = "fixture-delivered";
export const QUARANTINED_ID = "fixture-quarantined";

function message(id: string, recipients: string[], at: number): NewMessage {
  return {
    id,
    sender: "sender@example.test",
    recipients,
    channel: "api",
    clientIp: "127.0.0.9",
    receivedAt: at,
    body: new TextEncoder().encode(`Subject: ${id}\r\n\r\nbody\r\n`),
  };
}

async function seed(store: SqlStore): Promise<void> {
  await store.insertMessages([
    message(DELIVERED_ID, ["a@y.test", "b@y.test"], T0),
    message(QUARANTINED_ID, ["c@z.test"], T0 + 1),
  ]);
  const units = await store.leaseDue({
    owner: "fixture",
    token: "fixture-lease",
    now: T0 + 1_000,
    leaseMs: 60_000,
    limit: 10,
  });
  const delivered = units.find((u) => u.messageId === DELIVERED_ID)!;
  const quarantined = units.find((u) => u.messageId === QUARANTINED_ID)!;
  const outcome: UnitOutcome = {
    unitId: delivered.unitId,
    messageId: delivered.messageId,
    domain: delivered.domain,
    leaseToken: delivered.leaseToken,
    at: T0 + 2_000,
    durationMs: 12,
    sourceIp: "127.0.0.10",
    mxHost: "mx.y.test",
    remoteIp: "127.0.0.20",
    tls: false,
    results: [
      { address: "a@y.test", outcome: "delivered", code: 250, reply: "250 2.0.0 OK" },
      { address: "b@y.test", outcome: "deferred", code: 451, reply: "451 4.3.0 try later" },
    ],
    kind: "deferred",
    retryAt: T0 + 600_000,
    reason: "remote",
  };
  await store.settle([outcome]);
  await store.quarantine.recordFailures([{
    unitId: quarantined.unitId,
    messageId: quarantined.messageId,
    leaseToken: quarantined.leaseToken,
    reason: "dispatch: fixture failure",
  }], { limit: 1, now: T0 + 3_000 });
  await store.saveNode({
    id: "node-fixture",
    name: "fixture",
    hostname: "fixture.test",
    pid: 42,
    startedAt: T0,
    heartbeatAt: T0,
    stoppedAt: null,
    info: JSON.stringify({ queue: "embedded", smtp: [], admin: "", configVersion: 0, inFlight: 0 }),
  });
}

/** The fixture's app and store (`extra` adds to its context); the caller closes the store. */
export async function adminFixture(dir: string, extra: Partial<AdminContext> = {}) {
  const config = parseConfig({ data_dir: dir, admin: { api_tokens: [ADMIN_TOKEN] } });
  const store = await openStore(config, "admin");
  await store.migrate();
  await seed(store);
  const auth = new AdminAuth(store);
  await auth.addUser("alice", "correct horse battery");
  const context: AdminContext = {
    config,
    store,
    auth,
    startedAt: T0,
    cluster: { nodes: () => nodesOf(store, config) },
    queue: {
      resume: async (id) =>
        await store.quarantine.release(id, await store.quarantine.quarantined(id), T0 + 4_000),
    },
    ...extra,
  };
  return { app: adminApp(context), store, config, auth, context };
}

/** How a console test posts: where the CSRF token goes, and the form's encoding. */
export interface PostOptions {
  /** In the form field (the default, as the pages post), the `x-csrf-token` header, or nowhere. */
  csrf?: "form" | "header" | "none";
  /** multipart/form-data, as an upload form posts (also when a field is a File). */
  multipart?: boolean;
}

/** What a logged-in console user does in a test: GET pages and POST forms with the CSRF token. */
export interface ConsoleSession {
  cookie: string;
  csrf: string;
  get(path: string): Promise<{ status: number; html: string; response: Response }>;
  post(
    path: string,
    fields: Record<string, string | File>,
    options?: PostOptions,
  ): Promise<{ status: number; html: string; location: string | null }>;
}

type Web = { request(path: string, init?: RequestInit): Response | Promise<Response> };

/** Adds console user `name` with `role`, logs in, and returns its session on `web`. */
export async function consoleSession(
  web: Web,
  auth: AdminAuth,
  name: string,
  role: string,
): Promise<ConsoleSession> {
  await auth.addUser(name, "correct horse battery", role);
  return await loginSession(web, auth, name);
}

/** Logs in the existing console user `name` (password "correct horse battery") on `web`. */
export async function loginSession(
  web: Web,
  auth: AdminAuth,
  name: string,
): Promise<ConsoleSession> {
  const token = await auth.login(name, "correct horse battery");
  if (!token) throw new Error(`Cannot log "${name}" in`);
  const csrf = (await auth.session(token))!.csrfToken;
  const cookie = `fastmta_session=${token}`;
  return {
    cookie,
    csrf,
    async get(path) {
      const response = await web.request(path, { headers: { cookie } });
      return { status: response.status, html: await response.text(), response };
    },
    async post(path, fields, options = {}) {
      const where = options.csrf ?? "form";
      const field: Record<string, string> = where === "form" ? { _csrf: csrf } : {};
      const headers: Record<string, string> = { cookie };
      if (where === "header") headers["x-csrf-token"] = csrf;
      let body: FormData | URLSearchParams;
      if (options.multipart || Object.values(fields).some((v) => v instanceof File)) {
        body = new FormData();
        for (const [key, value] of Object.entries({ ...field, ...fields })) body.set(key, value);
      } else {
        headers["content-type"] = "application/x-www-form-urlencoded";
        body = new URLSearchParams({ ...(fields as Record<string, string>), ...field });
      }
      const response = await web.request(path, {
        method: "POST",
        headers,
        body,
        redirect: "manual",
      });
      return {
        status: response.status,
        html: await response.text(),
        location: response.headers.get("location"),
      };
    },
  };
}
