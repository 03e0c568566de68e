/**
 * Reply search by code and enhanced status is indexed (issue 14): settle writes the last reply's
 * code and enhanced status beside its text (core/store/reply_status.ts, migration 0018); a search
 * for "451", "4.7.1" or "451 4.7.1" matches them and its plan reads their index, while other
 * text still finds a substring of the reply.
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { tempDir } from "./helpers/net.ts";
import { parseConfig } from "../core/config/mod.ts";
import { replySearchCase } from "./helpers/reply_search_case.ts";
import { openStore } from "../core/store/mod.ts";
import { replyStatusOf, replyStatusQuery } from "../core/store/reply_status.ts";

Deno.test("reply status: parsed from a reply, and from a search text", () => {
  assertEquals(replyStatusOf(451, "4.7.1 greylisted"), { code: 451, status: "4.7.1" });
  assertEquals(replyStatusOf(550, "550 5.1.1 no such user"), { code: 550, status: "5.1.1" });
  assertEquals(replyStatusOf(421, "421-4.4.2 closing"), { code: 421, status: "4.4.2" });
  assertEquals(replyStatusOf(null, "connection refused"), { code: null, status: null });
  assertEquals(replyStatusOf(451, "try 4.7.1 later"), { code: 451, status: null });
  assertEquals(replyStatusQuery("451"), { code: 451, status: null });
  assertEquals(replyStatusQuery(" 4.7.1 "), { code: null, status: "4.7.1" });
  assertEquals(replyStatusQuery("451 4.7.1"), { code: 451, status: "4.7.1" });
  assertEquals(replyStatusQuery("greylisted"), null);
  assertEquals(replyStatusQuery("4512"), null);
});

Deno.test("reply search: code and enhanced status through their indexes", async () => {
  await using dir = tempDir();
  const config = parseConfig({ data_dir: dir.path });
  const store = await openStore(config, "deliver", { log: () => {} });
  try {
    await store.migrate();
    await replySearchCase(store);
    const plan = (await store.explainSearch({ reply: "451" })).join("\n");
    assert(plan.includes("queue_reply_code_id"), plan);
    const statusPlan = (await store.explainSearch({ reply: "4.7.1" })).join("\n");
    assert(statusPlan.includes("queue_reply_status_id"), statusPlan);
  } finally {
    await store.close();
  }
});
