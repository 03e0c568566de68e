/**
 * Only `serve` and `migrate` change the schema. Every other command, run against a database
 * whose schema is behind, says so and exits 2 with the database exactly as it was (tables,
 * migration rows, row counts); `send` alone sets up a brand-new database, which no node can be
 * using yet.
 */
import { DatabaseSync } from "node:sqlite";
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { tempDir } from "./helpers/net.ts";
import { runMain } from "./helpers/run_main.ts";
import { runCli } from "./helpers/server_process.ts";
import { COMMANDS } from "../cli/mod.ts";
import { migrationsFor } from "../migrations/mod.ts";

/** A config file on a SQLite database of its own. */
async function sqliteConfig(dir: string): Promise<{ configPath: string; dbPath: string }> {
  const dbPath = `${dir}/fastmta.db`;
  const configPath = `${dir}/config.json`;
  await Deno.writeTextFile(
    configPath,
    JSON.stringify({ data_dir: dir, database: { driver: "sqlite3", connection: dbPath } }),
  );
  return { configPath, dbPath };
}

/** Everything a command could change: the schema, the migration rows, each table's row count. */
function snapshot(dbPath: string): string {
  const db = new DatabaseSync(dbPath);
  try {
    const objects = db.prepare("select type, name, sql from sqlite_master order by type, name")
      .all() as { type: string; name: string }[];
    const counts = objects.filter((o) => o.type === "table").map((o) => {
      const row = db.prepare(`select count(*) as n from "${o.name}"`).get() as { n: number };
      return [o.name, row.n];
    });
    return JSON.stringify({ objects, counts });
  } finally {
    db.close();
  }
}

/** One invocation per command that must not migrate (needs no standard input). */
function invocations(message: string): Record<string, string[][]> {
  return {
    send: [["send", "--from", "a@origin.test", "--to", "b@dest.test", message]],
    queue: [["queue"], ["queue", "--json"], ["queue", "--message", "0000000000000000"]],
    nodes: [["nodes", "--all"]],
    config: [["config", "list"], ["config", "set", "smtp.max_recipients", "5"]],
    user: [["user", "list"], ["user", "add", "carol", "--password", "pw-1"]],
    apikey: [["apikey", "list"], ["apikey", "add", "shop"]],
    shaping: [["shaping", "list"], ["shaping", "pause", "gmail.com"]],
    pause: [["pause", "list"], ["pause", "add", "--domain", "gmail.com"]],
    dkim: [["dkim", "list"], ["dkim", "generate", "example.com", "s1", "--algorithm", "ed25519"]],
    suppression: [["suppression", "list"], ["suppression", "remove", "a@dest.test"]],
    admin: [["admin", "list"], ["admin", "remove", "alice"]],
    domain: [["domain", "list"], ["domain", "add", "example.net"]],
    vmta: [["vmta", "list"], ["vmta", "add", "ip=127.0.0.12", "hostname=vmta12.test"]],
    pool: [["pool", "list"]],
    listener: [["listener", "list"]],
    route: [["route", "list"]],
    "bounce-rule": [["bounce-rule", "list"]],
    "bounce-policy": [["bounce-policy", "list"]],
    "tls-cert": [["tls-cert", "list"]],
    audit: [["audit", "list"]],
    webhook: [["webhook", "list"], [
      "webhook",
      "add",
      "https://hooks.example.org/",
      ...["--events", "*", "--secret", "a-webhook-secret-0123"],
    ]],
  };
}

Deno.test("commands other than serve and migrate refuse a schema that is behind, changing nothing", async () => {
  await using dir = tempDir("fastmta-schema-");
  const { configPath, dbPath } = await sqliteConfig(dir.path);
  const migrated = await runMain(["migrate", "--config", configPath]);
  assertEquals(migrated.code, 0, migrated.stderr);
  // The database of an older fastmta: the newest migration is not recorded as applied.
  const names = Object.keys(migrationsFor("sqlite3"));
  const [previous, newest] = names.slice(-2);
  const db = new DatabaseSync(dbPath);
  db.prepare("delete from kysely_migration where name = ?").run(newest);
  db.close();
  const message = `${dir.path}/message.eml`;
  await Deno.writeTextFile(message, "Subject: hi\n\nhello\n");

  const before = snapshot(dbPath);
  const cases = invocations(message);
  for (const command of COMMANDS.filter((c) => c.database !== "migrates")) {
    if (command.name === "sendmail") continue; // its own exit codes: checked below
    assert(cases[command.name]?.length, `no schema check case for "${command.name}"`);
  }
  // sendmail says so with sendmail's EX_CONFIG (78), and queues nothing.
  const sendmail = await runMain(["sendmail", "-C", configPath, "-i", "b@dest.test"]);
  assertEquals(sendmail.code, 78, sendmail.stderr);
  assertMatch(sendmail.stderr, /^sendmail: The database schema is at \d{4}/);
  assertEquals(snapshot(dbPath), before);
  for (const args of Object.values(cases).flat()) {
    const result = await runMain([...args, "--config", configPath]);
    assertEquals(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
    assertEquals(
      result.stderr,
      `The database schema is at ${previous.slice(0, 4)}, this fastmta needs ` +
        `${newest.slice(0, 4)} (not applied: ${newest}): run "fastmta migrate"`,
      args.join(" "),
    );
    assertEquals(result.stdout, "", args.join(" "));
    assertEquals(snapshot(dbPath), before, `${args.join(" ")} changed the database`);
  }
  // The same through the real entry point (exit code set by Deno.exit).
  const child = await runCli(["queue", "--config", configPath]);
  assertEquals(child.code, 2, child.stderr);
  assertMatch(child.stderr, /this fastmta needs \d{4} \(not applied: .*\): run "fastmta migrate"/);
  assertEquals(snapshot(dbPath), before);
});

Deno.test("a brand-new database: queue reports it, send sets it up and queues", async () => {
  await using dir = tempDir("fastmta-schema-");
  const { configPath, dbPath } = await sqliteConfig(dir.path);
  const empty = await runMain(["queue", "--config", configPath]);
  assertEquals(empty.code, 2);
  assertMatch(
    empty.stderr,
    /^The database has no fastmta schema yet, this fastmta needs \d{4} \(not applied: 0001_queue, .*\): run "fastmta migrate"$/,
  );
  assertEquals(JSON.parse(snapshot(dbPath)).objects, [], "queue created no table");

  const message = `${dir.path}/message.eml`;
  await Deno.writeTextFile(message, "Subject: hi\n\nhello\n");
  const sent = await runMain([
    "send",
    "--config",
    configPath,
    "--from",
    "a@origin.test",
    "--to",
    "b@dest.test",
    message,
  ]);
  assertEquals(sent.code, 0, sent.stderr);
  assertMatch(sent.stdout, /^[0-9B-Z]{16}$/);
  const status = await runMain(["migrate", "--config", configPath, "--status"]);
  assertMatch(status.stdout, /\d+ applied, 0 pending/);
  const counts = await runMain(["queue", "--config", configPath, "--json"]);
  assertEquals(counts.code, 0, counts.stderr);
  assertEquals(JSON.parse(counts.stdout).queued, 1);
});
