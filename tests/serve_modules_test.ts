/**
 * `serve` stays split by job (cli/serve.ts the command, serve_node.ts the services in order,
 * serve_queue.ts store and queue, serve_workers.ts workers, serve_admin.ts admin HTTP and
 * outbox): no part grows past the team's ~400 lines, and every part is imported by the node.
 */
import { assert } from "./helpers/assert.ts";

const LIMIT = 400;

Deno.test("serve: every cli/serve*.ts module is under the line limit and in use", async () => {
  const dir = new URL("../cli/", import.meta.url);
  const parts: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (/^serve(_\w+)?\.ts$/.test(entry.name)) parts.push(entry.name);
  }
  assert(parts.length >= 5, `serve parts: ${parts}`);
  const texts = new Map<string, string>();
  for (const name of parts) texts.set(name, await Deno.readTextFile(new URL(name, dir)));
  for (const [name, text] of texts) {
    const lines = text.split("\n").length;
    assert(lines <= LIMIT, `cli/${name} has ${lines} lines (limit ${LIMIT})`);
    if (name === "serve.ts") continue;
    const used = [...texts].some(([other, t]) => other !== name && t.includes(`"./${name}"`));
    assert(used, `cli/${name} is imported by no other serve part`);
  }
});
