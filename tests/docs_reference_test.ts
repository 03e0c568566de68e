/** The generated reference docs: complete metadata, live flags that match, files not stale. */
import { assert, assertEquals } from "./helpers/assert.ts";
import { configSchema } from "../core/config/schema.ts";
import { describeSchema, missingMetadata } from "../core/config/describe.ts";
import { LIVE_SETTINGS } from "../core/cluster/live.ts";
import { staleDocs } from "../scripts/gen_docs.ts";

Deno.test("every config key has a description and a live flag", () => {
  assertEquals(missingMetadata(describeSchema(configSchema)), []);
});

Deno.test("the keys marked live are exactly those a running node applies (core/cluster/live.ts)", () => {
  const marked = describeSchema(configSchema)
    .filter((key) => key.ownLive && key.live === true)
    .map((key) => key.path);
  assertEquals(marked.toSorted(), [...LIVE_SETTINGS].toSorted());
});

Deno.test("the reference shows types and defaults as written in the file", () => {
  const keys = new Map(describeSchema(configSchema).map((key) => [key.path, key]));
  assertEquals(keys.get("delivery.max_age")?.default, '"5d"');
  assertEquals(keys.get("delivery.max_age")?.type, "duration");
  assertEquals(keys.get("outbox.claim_timeout")?.type, "duration ≥ 1m");
  assertEquals(keys.get("smtp.max_recipients")?.type, "integer > 0");
  assertEquals(keys.get("admin.listen")?.type, "host:port");
  assertEquals(keys.get("rabbitmq.host")?.default, "required");
  assert(keys.has("delivery.shaping.<pattern>.message_rate"));
  assert(keys.has("routes.<domain>.auth.username"));
});

Deno.test("the committed generated docs match the code (deno task docs)", async () => {
  assertEquals(await staleDocs(), [], 'stale generated docs: run "deno task docs"');
});
