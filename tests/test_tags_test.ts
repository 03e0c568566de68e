/**
 * Every test file says in its name what it needs (tests/helpers/test_tags.ts): this reads each
 * file, infers its needs from what it calls, and lists every file whose name disagrees, so a new
 * test that opens a database, RabbitMQ, Chromium or a fastmta process cannot land in the fast
 * unit run (nor a tagged one stay out of it for no reason). Then the unit run itself: its deny
 * flags really refuse the services.
 */
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { tempDir } from "./helpers/net.ts";
import { tagsOf, TEST_TAGS, UNIT_DENY_FLAGS } from "./helpers/test_tags.ts";

const TESTS = new URL(".", import.meta.url).pathname;

// Distributed mode (`distributed: true` of the e2e fixture, a run in "rabbitmq" mode such as
// `regression("rabbitmq")`, or the cluster fixture's `startCluster(`) is RabbitMQ with the shared
// PostgreSQL database.
const DISTRIBUTED = /\bdistributed: true\b|\w\("rabbitmq"|\bstartCluster\(/;
/** What calls in a test file show it needs; one pattern per tag. */
const NEEDS: Record<keyof typeof TEST_TAGS, RegExp> = {
  rabbitmq: new RegExp(`\\btestVhost\\(|from "amqplib"|\\brabbitmqctl\\(|${DISTRIBUTED.source}`),
  pg: new RegExp(
    `\\bsharedDatabase\\(|\\btestDatabaseKinds\\(|createTestDatabase\\("postgres"\\)|from "pg"|` +
      DISTRIBUTED.source,
  ),
  mariadb: /\btestDatabaseKinds\(|createTestDatabase\("mysql"\)|from "mysql2/,
  chromium: /from "playwright-core"/,
  // A fastmta server or CLI process, started directly, by a fixture, the docs runner or the bench.
  e2e:
    /\b(startServer|withServer|startE2eFixture|startCluster|startSmtpFixture|quarantineFixture|runCli|shellCommands)\(|"bench\/run\.ts"/,
};

function inferredTags(source: string): string[] {
  return Object.keys(TEST_TAGS).filter((tag) => NEEDS[tag].test(source));
}

/** Test files under tests/, subfolders (tests/faults, tests/fuzz) included, as relative paths. */
function* testFiles(dir = ""): Generator<{ name: string; path: string }> {
  for (const entry of Deno.readDirSync(`${TESTS}${dir}`)) {
    if (entry.isDirectory && !["helpers", "fixtures"].includes(entry.name)) {
      yield* testFiles(`${dir}${entry.name}/`);
    } else if (entry.isFile && /_test\.tsx?$/.test(entry.name)) {
      yield { name: entry.name, path: `${dir}${entry.name}` };
    }
  }
}

Deno.test("test tags: every test file's name says what it needs", async () => {
  const wrong: string[] = [];
  let files = 0;
  for (const entry of testFiles()) {
    files++;
    const source = await Deno.readTextFile(`${TESTS}${entry.path}`);
    // This file names the patterns it looks for; it needs none of them.
    const needed = entry.name === "test_tags_test.ts" ? [] : inferredTags(source);
    let named: string[];
    try {
      named = tagsOf(entry.name);
    } catch (error) {
      wrong.push((error as Error).message);
      continue;
    }
    const missing = needed.filter((tag) => !named.includes(tag));
    const extra = named.filter((tag) => !needed.includes(tag));
    const order = Object.keys(TEST_TAGS).filter((tag) => named.includes(tag));
    if (missing.length || extra.length || order.join() !== named.join()) {
      const base = entry.name.replace(/(\.[^.]+)*_test\.tsx?$/, "");
      const want = [base, ...Object.keys(TEST_TAGS).filter((t) => needed.includes(t))].join(".");
      wrong.push(
        `${entry.path}: ` + [
          missing.length ? `needs ${missing.map((t) => TEST_TAGS[t].needs).join(", ")}` : "",
          extra.length ? `tagged ${extra.join(", ")} but uses none of it` : "",
        ].filter(Boolean).join("; ") + ` (name it ${want}_test.ts)`,
      );
    }
  }
  assert(files > 40, `only ${files} test files found in ${TESTS}`);
  assertEquals(wrong, [], `test files whose name disagrees with their needs:\n${wrong.join("\n")}`);
});

Deno.test("test tags: a tag is known, in order, before _test.ts", () => {
  assertEquals(tagsOf("config_test.ts"), []);
  assertEquals(tagsOf("cluster.rabbitmq.pg.e2e_test.ts"), ["rabbitmq", "pg", "e2e"]);
  let error: unknown;
  try {
    tagsOf("store.postgres_test.ts");
  } catch (e) {
    error = e;
  }
  assertMatch(String(error), /store\.postgres_test\.ts: unknown test tag "postgres"/);
});

Deno.test("test tags: the unit run's flags deny every service port and program", async () => {
  const probe = `
    const refused = async (what, attempt) => {
      try { await attempt(); return what + " allowed"; }
      catch (e) { return e instanceof Deno.errors.NotCapable ? "" : what + " " + e.name; }
    };
    const results = [];
    for (const port of ${JSON.stringify(Object.values(TEST_TAGS).flatMap((t) => t.ports))}) {
      for (const hostname of ["127.0.0.1", "localhost"]) {
        results.push(await refused(hostname + ":" + port, () => Deno.connect({ hostname, port })));
      }
    }
    for (const program of ${JSON.stringify(Object.values(TEST_TAGS).flatMap((t) => t.programs))}) {
      results.push(await refused(program, () => new Deno.Command(program).output()));
    }
    console.log(JSON.stringify(results.filter(Boolean)));`;
  // `deno eval` ignores permission flags: run the probe as a file.
  await using dir = tempDir("fastmta-tags-");
  await Deno.writeTextFile(`${dir.path}/probe.js`, probe);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...UNIT_DENY_FLAGS, `${dir.path}/probe.js`],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assertEquals(out.code, 0, stderr);
  assertEquals(JSON.parse(new TextDecoder().decode(out.stdout)), [], "reachable in the unit run");
});
