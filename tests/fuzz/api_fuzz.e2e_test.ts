/**
 * Issue 18, hostile input on the other doors: seeded, reproducible inject v1 documents
 * (json_mutations.ts) POSTed to the REST API (`/api/v1/messages`, with a sender key, with odd
 * content types and methods) and inserted as outbox rows (SQLite, `outbox.enabled`). Every answer
 * is an HTTP status below 500 except 503 (the documented "cannot take it now"); every outbox row
 * ends `accepted` or `failed` with a reason; the server stays up and a normal message is
 * delivered afterwards. 100 documents each in CI, 3 000 with FASTMTA_HEAVY=1; the seed is
 * printed and taken from FASTMTA_FUZZ_SEED.
 */
import { DatabaseSync } from "node:sqlite";
import { assert, assertEquals } from "../helpers/assert.ts";
import { E2E_DOMAIN, startE2eFixture } from "../helpers/e2e_fixture.ts";
import { heavy, seedFrom } from "../helpers/prng.ts";
import { runCli } from "../helpers/server_process.ts";
import { waitUntil } from "../helpers/wait.ts";
import { fuzzJson } from "./json_mutations.ts";

Deno.test("API and outbox fuzz: statuses below 500, every row finished, the node up", async () => {
  const seed = seedFrom("FASTMTA_FUZZ_SEED");
  const count = heavy() ? 3_000 : 100;
  console.log(`api fuzz: ${count} documents, seed ${seed} (FASTMTA_FUZZ_SEED=${seed})`);
  await using e2e = await startE2eFixture({ prefix: "fastmta-apifuzz-" });
  const config = e2e.nodeConfig();
  config.outbox = { enabled: true, poll_interval: "50ms" };
  const configPath = await e2e.writeConfig(config);
  const server = await e2e.start(config);
  try {
    const key = (await runCli(["apikey", "add", "fuzz", "--config", configPath])).stdout.trim();
    assert(key.startsWith("fmk_"), key);
    const statuses = new Map<number, number>();
    const started = Date.now();
    const bad: string[] = [];
    const contentTypes = ["application/json", "text/plain", "application/json; charset=latin1", ""];
    for (let i = 0; i < count; i++) {
      const { body, note } = fuzzJson(seed, i);
      const sentAt = Date.now();
      const response = await fetch(`${server.adminUrl}/api/v1/messages`, {
        method: i % 50 === 49 ? "PUT" : "POST",
        headers: {
          authorization: `Bearer ${key}`,
          "content-type": contentTypes[i % contentTypes.length],
        },
        body: new Uint8Array(body),
      });
      await response.body?.cancel();
      const took = Date.now() - sentAt;
      if (took > 1_000) console.log(`slow: index ${i} [${note}] ${response.status} in ${took} ms`);
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
      if (response.status >= 500 && response.status !== 503 && bad.length < 10) {
        bad.push(`seed=${seed} index=${i} [${note}]: ${response.status}`);
      }
    }
    console.log(
      `api fuzz statuses (${Date.now() - started} ms): ` +
        JSON.stringify(Object.fromEntries(statuses)),
    );
    assertEquals(bad, [], "no 5xx but 503");

    // The same documents as outbox rows.
    const db = new DatabaseSync(`${config.data_dir}/fastmta.db`);
    db.exec("PRAGMA busy_timeout = 10000");
    const insert = db.prepare("insert into outbox (payload) values (?)");
    const decoder = new TextDecoder(); // invalid UTF-8 becomes U+FFFD: a TEXT column holds text
    for (let i = 0; i < count; i++) insert.run(decoder.decode(fuzzJson(seed, count + i).body));
    const finished = await waitUntil(() => {
      const rows = db.prepare("select state, count(*) as n from outbox group by state").all();
      const by = Object.fromEntries(rows.map((r) => [r.state, Number(r.n)]));
      return (by.new ?? 0) + (by.claimed ?? 0) === 0 ? by : null;
    }, { timeoutMs: 120_000, intervalMs: 200, message: "every outbox row finished" });
    const noReason = db.prepare(
      "select count(*) as n from outbox where state = 'failed' and (error is null or error = '')",
    ).get();
    db.close();
    console.log(`outbox fuzz rows (${Date.now() - started} ms): ${JSON.stringify(finished)}`);
    assertEquals(Number(noReason?.n), 0, "every failed row says why");

    const alive = await Promise.race([server.exited.then(() => false), Promise.resolve(true)]);
    assert(alive, "the server is still running");
    assert(!/supervisor: \S+ (crashed|restarted)/.test(server.logs()), "no worker died");
    e2e.sink.clearMessages();
    const sent = await fetch(`${server.adminUrl}/api/v1/messages`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({
        from: "a@origin.test",
        to: [`after@${E2E_DOMAIN}`],
        subject: "after the fuzz",
        text: "ok",
      }),
    });
    assertEquals(sent.status, 202, await sent.text());
    await e2e.sink.waitFor(
      (sink) => sink.messages.some((m) => m.rcptTo.includes(`after@${E2E_DOMAIN}`)),
      60_000,
      "the normal message at the sink",
    );
  } catch (error) {
    console.error(`api fuzz seed ${seed}`);
    e2e.dump();
    throw error;
  }
});
