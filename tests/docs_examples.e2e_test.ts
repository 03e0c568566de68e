/**
 * The shell examples of the README and docs/ run as written, so they cannot rot: each document's
 * runnable ```sh blocks (tests/helpers/doc_examples.ts) run in order, each command through `sh`,
 * in a fresh folder where `fastmta migrate` has run (as after the quick start), with the
 * repository's `fastmta` launcher on PATH through a symlink, as the README installs it.
 */
import { join } from "node:path";
import { assert, assertEquals } from "./helpers/assert.ts";
import { tempDir } from "./helpers/net.ts";
import { type Example, extractExamples, isShell, shellCommands } from "./helpers/doc_examples.ts";

const ROOT = new URL("..", import.meta.url).pathname;
/** Longest one command may take before the test reports it as hanging. */
const COMMAND_DEADLINE_MS = 120_000;

async function documents(): Promise<{ name: string; examples: Example[] }[]> {
  const names = ["README.md"];
  for await (const entry of Deno.readDir(join(ROOT, "docs"))) {
    if (entry.isFile && entry.name.endsWith(".md")) names.push(`docs/${entry.name}`);
  }
  names.sort();
  return await Promise.all(names.map(async (name) => ({
    name,
    examples: extractExamples(await Deno.readTextFile(join(ROOT, name)), name),
  })));
}

/** The environment of a new user's shell: no FASTMTA_* settings, the launcher on PATH. */
function shellEnv(bin: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(Deno.env.toObject())) {
    if (!key.startsWith("FASTMTA_")) env[key] = value;
  }
  env.PATH = `${bin}:${env.PATH ?? "/usr/bin:/bin"}`;
  env.DENO_NO_UPDATE_CHECK = "1";
  return env;
}

async function run(command: string, cwd: string, env: Record<string, string>): Promise<string> {
  const out = await new Deno.Command("sh", {
    args: ["-c", command],
    cwd,
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(COMMAND_DEADLINE_MS),
  }).output();
  if (out.code === 0) return "";
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes).trim();
  return `exit ${out.code}\n${decode(out.stdout)}\n${decode(out.stderr)}`.trim();
}

/** Runs one document's examples; returns its failures and how many commands ran. */
async function runDocument(
  doc: { name: string; examples: Example[] },
  bin: string,
): Promise<{ failures: string[]; ran: number }> {
  const runnable = doc.examples.filter((e) => (isShell(e) && e.skip === null) || e.file !== null);
  if (!runnable.some(isShell)) return { failures: [], ran: 0 };
  await using dir = tempDir("fastmta-docs-");
  const env = shellEnv(bin);
  const failures: string[] = [];
  const setup = await run("fastmta migrate", dir.path, env);
  if (setup) return { failures: [`${doc.name}: fastmta migrate failed: ${setup}`], ran: 1 };
  let ran = 1;
  for (const example of runnable) {
    if (example.file !== null) {
      await Deno.writeTextFile(join(dir.path, example.file), `${example.body}\n`);
      continue;
    }
    for (const command of shellCommands(example.body)) {
      ran++;
      const failure = await run(command, dir.path, env);
      if (failure) failures.push(`${doc.name}:${example.line}: ${command}\n${failure}`);
    }
  }
  return { failures, ran };
}

Deno.test("every shell example of the README and docs/ runs as written", async () => {
  await using bin = tempDir("fastmta-bin-");
  await Deno.symlink(join(ROOT, "fastmta"), join(bin.path, "fastmta"));
  const docs = await documents();
  // Two documents at a time: each command starts a Deno process.
  const results: { failures: string[]; ran: number }[] = [];
  const queue = [...docs];
  await Promise.all([0, 1].map(async () => {
    for (let doc = queue.shift(); doc; doc = queue.shift()) {
      results.push(await runDocument(doc, bin.path));
    }
  }));
  const failures = results.flatMap((r) => r.failures);
  assertEquals(failures, [], `shell examples failed:\n\n${failures.join("\n\n")}`);
  const ran = results.reduce((sum, r) => sum + r.ran, 0);
  assert(ran >= 20, `only ${ran} example commands ran: is the extractor broken?`);
});

Deno.test("the docs use one command name: fastmta, never `deno task cli COMMAND`", async () => {
  const stale: string[] = [];
  for (const { name, examples } of await documents()) {
    const text = await Deno.readTextFile(join(ROOT, name));
    text.split("\n").forEach((line, i) => {
      // The full npx form is the documented fallback (Windows); anything else must be fastmta.
      if (
        /(?<!npx -y deno@2\.9\.6 )deno task cli [a-z<]|main\.ts (nodes|config|queue)/.test(line)
      ) {
        stale.push(`${name}:${i + 1}: ${line.trim()}`);
      }
    });
    for (const example of examples.filter(isShell)) {
      for (const command of shellCommands(example.body)) {
        assert(!/^\s*deno (task cli|run)/.test(command), `${name}:${example.line}: ${command}`);
      }
    }
  }
  assertEquals(stale, []);
});

Deno.test("the fastmta launcher runs main.ts with the flags of the cli task", async () => {
  const tasks = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json"))).tasks;
  const taskFlags = (tasks.cli as string).replace(/^DENO_NO_UPDATE_CHECK=1 deno run /, "").replace(
    / main\.ts$/,
    "",
  )
    .split(/\s+/);
  const launcher = await Deno.readTextFile(join(ROOT, "fastmta"));
  const block = /set -- run \\\n([\s\S]*?)--config/.exec(launcher);
  assert(block, "the launcher's `set -- run` line is missing");
  const launcherFlags = block[1].split(/[\s\\]+/).filter(Boolean);
  assertEquals(launcherFlags, taskFlags);
  assert((await Deno.stat(join(ROOT, "fastmta"))).mode! & 0o111, "fastmta is not executable");
});

Deno.test("markers are read: skip needs a reason, file blocks are written", () => {
  const examples = extractExamples(
    [
      "<!-- example: skip (needs a server) -->",
      "",
      "```sh",
      "fastmta serve",
      "```",
      "<!-- example: file a.json -->",
      "```json",
      "{}",
      "```",
      "```sh",
      "fastmta queue \\",
      "  --json   # counts",
      "# a comment",
      "```",
    ].join("\n"),
    "t.md",
  );
  assertEquals(examples.map((e) => [e.lang, e.skip, e.file]), [
    ["sh", "needs a server", null],
    ["json", null, "a.json"],
    ["sh", null, null],
  ]);
  assertEquals(shellCommands(examples[2].body), ["fastmta queue    --json   # counts"]);
  let error = "";
  try {
    extractExamples("<!-- example: skip -->\n```sh\nx\n```", "t.md");
  } catch (e) {
    error = (e as Error).message;
  }
  assertEquals(error, 't.md:1: cannot use marker "skip" here');
});
