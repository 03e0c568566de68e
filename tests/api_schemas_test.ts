/**
 * The JSON API's answers against its published shapes (core/api/schemas.ts), on a real store
 * holding one of everything: every field present, none extra (strict schemas), so a change in
 * the store or the routes that alters the public API fails here. The CLI's JSON documents that
 * are the same as the API's are checked too.
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { tempDir } from "./helpers/net.ts";
import {
  ADMIN_TOKEN,
  adminFixture,
  DELIVERED_ID,
  QUARANTINED_ID,
} from "./helpers/admin_fixture.ts";
import { runMain } from "./helpers/run_main.ts";
import type { z } from "zod";
import {
  AttemptListQuery,
  AttemptListSchema,
  CancelSchema,
  HealthSchema,
  MessageDetailSchema,
  MessageListQuery,
  MessageListSchema,
  NodesQuery,
  NodesSchema,
  NodeStatusSchema,
  ProblemSchema,
  QueueCountsSchema,
  ReleaseSchema,
} from "../core/api/schemas.ts";

const bearer = { authorization: `Bearer ${ADMIN_TOKEN}` };

/** Parses `body` with `schema`, failing with the path and problem of the first mismatch. */
function conforms<T>(schema: z.ZodType<T>, body: unknown, what: string): T {
  const result = schema.safeParse(body);
  assert(
    result.success,
    `${what} does not match its schema: ${JSON.stringify(result.error?.issues)}\n` +
      JSON.stringify(body),
  );
  return result.data;
}

Deno.test("API answers match core/api/schemas.ts, field for field", async () => {
  await using dir = tempDir();
  const { app, store } = await adminFixture(dir.path);
  const get = async (path: string, init: RequestInit = {}) => {
    const response = await app.request(path, { ...init, headers: bearer });
    return { status: response.status, body: await response.json() };
  };
  try {
    const health = await get("/healthz");
    assertEquals(health.status, 200);
    conforms(HealthSchema, health.body, "GET /healthz");

    const queue = conforms(QueueCountsSchema, (await get("/api/v1/queue")).body, "GET /queue");
    assertEquals(queue.deferred, 1);

    const list = conforms(MessageListSchema, (await get("/api/v1/messages")).body, "GET /messages");
    assertEquals(list.items.map((m) => m.id).sort(), [DELIVERED_ID, QUARANTINED_ID]);

    const delivered = conforms(
      MessageDetailSchema,
      (await get(`/api/v1/messages/${DELIVERED_ID}`)).body,
      "GET /messages/:id",
    );
    assertEquals(delivered.attempts.length, 2, "both results logged: every attempt field seen");
    const quarantined = conforms(
      MessageDetailSchema,
      (await get(`/api/v1/messages/${QUARANTINED_ID}`)).body,
      "GET /messages/:id (quarantined)",
    );
    assertEquals(quarantined.units[0].state, "quarantined");

    const attempts = conforms(AttemptListSchema, (await get("/api/v1/attempts")).body, "attempts");
    assertEquals(attempts.items.length, 2);

    const nodes = conforms(NodesSchema, (await get("/api/v1/nodes?all")).body, "GET /nodes");
    assertEquals(nodes.nodes.length, 1);

    const missing = await get("/api/v1/messages/nosuch");
    assertEquals(missing.status, 404);
    conforms(ProblemSchema, missing.body, "404");
    const anonymous = await app.request("/api/v1/queue");
    assertEquals(anonymous.status, 401);
    conforms(ProblemSchema, await anonymous.json(), "401");

    const released = await get(`/api/v1/messages/${QUARANTINED_ID}/release`, { method: "POST" });
    assertEquals(conforms(ReleaseSchema, released.body, "release"), { units: 1, dsns: 0 });
    const cancelled = await get(`/api/v1/messages/${QUARANTINED_ID}`, { method: "DELETE" });
    assertEquals(conforms(CancelSchema, cancelled.body, "cancel"), { units: 1, recipients: 1 });
  } finally {
    await store.close();
  }
});

Deno.test("the CLI prints the API's documents: queue --message, nodes --json, queue cancel", async () => {
  await using dir = tempDir();
  const { store } = await adminFixture(dir.path);
  await store.close();
  const config = `${dir.path}/config.json`;
  await Deno.writeTextFile(config, JSON.stringify({ data_dir: dir.path }));

  const shown = await runMain(["queue", "--config", config, "--message", QUARANTINED_ID]);
  assertEquals(shown.code, 0, shown.stderr);
  conforms(MessageDetailSchema, JSON.parse(shown.stdout), "queue --message");

  const nodes = await runMain(["nodes", "--config", config, "--json", "--all"]);
  assertEquals(nodes.code, 0, nodes.stderr);
  conforms(NodeStatusSchema.array(), JSON.parse(nodes.stdout), "nodes --json");

  const cancelled = await runMain(["queue", "--config", config, "cancel", QUARANTINED_ID]);
  assertEquals(cancelled.code, 0, cancelled.stderr);
  conforms(CancelSchema, JSON.parse(cancelled.stdout), "queue cancel");
});

Deno.test("API query parameters: page sizes clamp, default when missing or not a number", () => {
  const page = (query: Record<string, string>) => {
    const { limit, cursor } = MessageListQuery.parse(query);
    return { limit, cursor };
  };
  assertEquals(page({}), { limit: 50, cursor: undefined });
  assertEquals(page({ limit: "abc", cursor: "" }), { limit: 50, cursor: undefined });
  assertEquals(page({ limit: "9999", cursor: "X1" }), { limit: 500, cursor: "X1" });
  assertEquals(MessageListQuery.parse({ limit: "-3" }).limit, 1);
  assertEquals(AttemptListQuery.parse({ limit: "0" }).limit, 100);
  assertEquals(AttemptListQuery.parse({ limit: "5000" }).limit, 1000);
  assertEquals(NodesQuery.parse({}).all, false);
  assertEquals(NodesQuery.parse({ all: "" }).all, true);
});
