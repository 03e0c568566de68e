/**
 * RabbitMQ for tests: every test gets its own virtual host on the broker at 127.0.0.1:5672
 * (guest/guest). `rabbitmqctl` starts an Erlang VM per call (seconds on a busy machine), so
 * vhosts are created in batches with one `rabbitmqctl eval`, and deleted together when the test
 * process exits (plus, at each batch, any left behind by test processes that no longer run).
 *
 * @module
 */

import { createTestDatabase } from "./databases.ts";

const PREFIX = "fastmta-t-";
const BATCH = 4;
const ACTOR = '<<"fastmta-tests">>';

/** A vhost for one test. */
export interface TestVhost extends AsyncDisposable {
  /** The vhost name. */
  readonly name: string;
  /** `rabbitmq` config section pointing at it (prefix "fastmta"). */
  readonly config: {
    host: string;
    port: number;
    username: string;
    password: string;
    virtual_host: string;
    exchange_name: string;
  };
  /** `amqp://guest:guest@127.0.0.1:5672/<vhost>` for amqplib. */
  readonly url: string;
}

const spare: string[] = [];
const created: string[] = [];
let counter = 0;
let unloadHooked = false;

function erlangList(names: string[]): string {
  return `[${names.map((n) => `<<"${n}">>`).join(",")}]`;
}

function livePids(): string[] {
  const pids: string[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (/^\d+$/.test(entry.name)) pids.push(entry.name);
  }
  return pids;
}

/** Runs `rabbitmqctl eval EXPR`; throws with its output on failure. */
export async function rabbitmqctlEval(expression: string): Promise<string> {
  const out = await new Deno.Command("rabbitmqctl", {
    args: ["eval", expression],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`rabbitmqctl eval failed: ${text}`);
  return text;
}

/** Runs a `rabbitmqctl` command (e.g. `close_all_connections reason`). */
export async function rabbitmqctl(...args: string[]): Promise<string> {
  const out = await new Deno.Command("rabbitmqctl", {
    args,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`rabbitmqctl ${args.join(" ")} failed: ${text}`);
  return text;
}

function deleteExpression(names: string[]): string {
  return `[rabbit_vhost:delete(V, ${ACTOR}) || V <- ${erlangList(names)}, ` +
    `lists:member(V, rabbit_vhost:list_names())], ok.`;
}

function hookUnload() {
  if (unloadHooked) return;
  unloadHooked = true;
  globalThis.addEventListener("unload", () => {
    if (created.length === 0) return;
    new Deno.Command("rabbitmqctl", {
      args: ["eval", deleteExpression(created)],
      stdout: "null",
      stderr: "null",
    }).outputSync();
  });
}

async function createBatch() {
  const names = Array.from({ length: BATCH }, () => `${PREFIX}${Deno.pid}-${++counter}`);
  // Also removes vhosts of test processes that died without cleaning up.
  const expression = `Alive = ${erlangList(livePids())},
    Stale = [V || V <- rabbit_vhost:list_names(),
      case V of <<"${PREFIX}", Rest/binary>> ->
        [Pid | _] = binary:split(Rest, <<"-">>), not lists:member(Pid, Alive);
      _ -> false end],
    [rabbit_vhost:delete(V, ${ACTOR}) || V <- Stale],
    [begin ok = rabbit_vhost:add(V, ${ACTOR}),
      ok = rabbit_auth_backend_internal:set_permissions(<<"guest">>, V, <<".*">>, <<".*">>,
        <<".*">>, ${ACTOR}) end || V <- ${erlangList(names)}],
    ok.`;
  await rabbitmqctlEval(expression.replace(/\s+/g, " "));
  created.push(...names);
  spare.push(...names);
  hookUnload();
}

/** A fresh vhost of its own for one test (deleted when the test process exits). */
export async function testVhost(): Promise<TestVhost> {
  if (spare.length === 0) await createBatch();
  const name = spare.shift()!;
  return {
    name,
    config: {
      host: "127.0.0.1",
      port: 5672,
      username: "guest",
      password: "guest",
      virtual_host: name,
      exchange_name: "fastmta",
    },
    url: `amqp://guest:guest@127.0.0.1:5672/${encodeURIComponent(name)}`,
    async [Symbol.asyncDispose]() {
      // Deleted with the rest at exit: one rabbitmqctl call instead of one per test.
    },
  };
}

/** A database that several server processes can share (see {@link sharedDatabase}). */
export interface SharedDatabase extends AsyncDisposable {
  kind: "postgres" | "sqlite3";
  /** The `database` config section (small pools: two nodes of several threads each). */
  config: { driver: string; connection: string; pool_size?: number };
}

/**
 * The shared SQL database of a cluster test: a fresh PostgreSQL database (distributed mode's
 * database), or, only if PostgreSQL is not reachable, one SQLite file (works for processes on
 * one machine).
 */
export async function sharedDatabase(dir: string): Promise<SharedDatabase> {
  try {
    const db = await createTestDatabase("postgres");
    return {
      kind: "postgres",
      config: { driver: "postgres", connection: db.connection, pool_size: 4 },
      [Symbol.asyncDispose]: () => db.drop(),
    };
  } catch (error) {
    // Denied by `deno task test:unit`: the test is filed as a unit test but needs PostgreSQL.
    if (error instanceof Deno.errors.NotCapable) throw error;
    console.error(`PostgreSQL unavailable (${(error as Error).message}): using SQLite`);
    return {
      kind: "sqlite3",
      config: { driver: "sqlite3", connection: `${dir}/shared.db` },
      [Symbol.asyncDispose]: () => Promise.resolve(),
    };
  }
}
