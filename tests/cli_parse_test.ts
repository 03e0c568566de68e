/**
 * The command line is checked against the registry before any command runs: unknown options and
 * bad values exit 2 naming them, every command's help comes from its registry entry.
 */
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { renderHelp } from "../cli/_help.ts";
import { parseCommandLine } from "../cli/_parse.ts";
import { UsageError } from "../cli/_usage.ts";
import { COMMANDS } from "../cli/mod.ts";
import { runMain as run } from "./helpers/run_main.ts";

function usageError(args: string[]): string {
  try {
    parseCommandLine(COMMANDS, args);
  } catch (error) {
    if (error instanceof UsageError) return error.message;
    throw error;
  }
  throw new Error(`${args.join(" ")} parsed without error`);
}

Deno.test("an option the command does not take exits 2 and names it", async () => {
  const serve = await run(["serve", "--bits", "3"]);
  assertEquals(serve.code, 2);
  assertMatch(serve.stderr, /^Unknown option "--bits" for "serve"\nRun "fastmta serve --help"/);
  assertEquals(serve.stdout, "");
  // Options are per action: --bits belongs to "dkim generate" only.
  assertEquals(
    usageError(["dkim", "list", "--bits", "3"]),
    'Unknown option "--bits" for "dkim list"',
  );
  assertEquals(usageError(["queue", "-x"]), 'Unknown option "-x" for "queue"');
  assertEquals(usageError(["dkim", "--bogus", "3", "list"]), 'Unknown option "--bogus" for "dkim"');
  assertEquals(usageError(["queue", "--all"]), 'Unknown option "--all" for "queue"');
  assertEquals(
    usageError(["user", "list", "--password=p"]),
    'Unknown option "--password" for "user list"',
  );
});

Deno.test("bad values, missing values and repeated options exit 2 naming the option", async () => {
  assertEquals(
    usageError(["dkim", "generate", "example.com", "s1", "--bits", "abc"]),
    'Invalid value "abc" for "--bits": expected an integer from 1024 to 8192',
  );
  assertEquals(
    usageError(["dkim", "generate", "example.com", "s1", "--bits", "512"]),
    'Invalid value "512" for "--bits": expected an integer from 1024 to 8192',
  );
  assertEquals(
    usageError(["dkim", "generate", "example.com", "s1", "--algorithm", "dsa"]),
    'Invalid value "dsa" for "--algorithm": expected rsa or ed25519',
  );
  assertEquals(usageError(["queue", "--message"]), 'Option "--message" needs a value (ID)');
  assertEquals(
    usageError(["queue", "--config", "--json"]),
    'Option "--config" needs a value (FILE)',
  );
  assertEquals(usageError(["queue", "--json=yes"]), 'Option "--json" takes no value');
  assertEquals(
    usageError(["send", "--from", "a@b.c", "--from", "d@e.f"]),
    'Option "--from" is given more than once',
  );
  const bad = await run(["migrate", "--status=1"]);
  assertEquals(bad.code, 2);
  assertMatch(bad.stderr, /Option "--status" takes no value/);
});

Deno.test("commands, actions and positional arguments are checked", async () => {
  assertEquals(usageError(["nope"]), 'Unknown command "nope"');
  assertEquals(
    usageError(["dkim"]),
    'Missing action for "dkim": expected generate, list or remove',
  );
  assertEquals(
    usageError(["apikey", "rotate"]),
    'Unknown action "rotate" for "apikey": expected add, list or remove',
  );
  assertEquals(
    usageError(["dkim", "generate", "example.com"]),
    'Missing SELECTOR for "dkim generate"',
  );
  assertEquals(
    usageError(["apikey", "list", "extra"]),
    'Unexpected argument "extra" for "apikey list"',
  );
  assertEquals(
    usageError(["queue", "extra"]),
    'Unknown action "extra" for "queue": expected status, list, show, retry, cancel, bounce, ' +
      "hold, release, job or recount",
  );
  assertEquals(usageError(["queue", "show"]), 'Missing ID for "queue show"');
  assertEquals(
    usageError(["queue", "cancel", "--json", "X"]),
    'Unknown option "--json" for "queue cancel"',
  );
  // send takes recipients (with an "@") and at most one FILE.
  const twoFiles = await run(["send", "a.eml", "b.eml"]);
  assertEquals(twoFiles.code, 2);
  assertMatch(twoFiles.stderr, /^Unexpected argument "b\.eml": give one FILE/);
  const none = await run([]);
  assertEquals(none.code, 2);
  assertMatch(none.stderr, /^Usage: fastmta <command>/);
});

Deno.test("values are typed, defaults applied, repeatable options collected", () => {
  const dkim = parseCommandLine(COMMANDS, ["dkim", "generate", "Example.com", "s1", "--json"]);
  assert(dkim.kind === "run");
  assertEquals(dkim.action?.name, "generate");
  assertEquals(dkim.args, ["Example.com", "s1"]);
  assertEquals(
    [dkim.values.algorithm, dkim.values.bits, dkim.values.json, dkim.values.config],
    ["rsa", 2048, true, undefined],
  );
  const chosen = parseCommandLine(COMMANDS, [
    "dkim",
    "generate",
    "example.com",
    "s1",
    "--algorithm=ED25519",
    "--bits",
    "4096",
    "--config",
    "x.json",
  ]);
  assert(chosen.kind === "run");
  assertEquals([chosen.values.algorithm, chosen.values.bits, chosen.values.config], [
    "ed25519",
    4096,
    "x.json",
  ]);
  const send = parseCommandLine(COMMANDS, [
    "send",
    "--from",
    "<>",
    "--to",
    "a@x.y",
    "--to",
    "b@x.y",
    "-",
  ]);
  assert(send.kind === "run");
  assertEquals([send.values.from, send.values.to, send.values.json, send.args], [
    "<>",
    ["a@x.y", "b@x.y"],
    false,
    ["-"],
  ]);
});

Deno.test("every command's help comes from the registry", async () => {
  const list = await run(["--help"]);
  assertEquals(list.code, 0);
  for (const command of COMMANDS) {
    assert(
      list.stdout.split("\n").some((l) =>
        l.startsWith(`  ${command.name} `) && l.endsWith(command.summary)
      ),
      `${command.name} in the command list`,
    );
    const help = await run([command.name, "--help"]);
    assertEquals(help.code, 0, command.name);
    assertEquals(help.stdout, renderHelp(command));
    assertEquals((await run(["help", command.name])).stdout, help.stdout);
    for (const action of command.subcommands ?? [undefined]) {
      // The default action is shown as optional: "fastmta queue [status]".
      const name = action && action.name === command.defaultAction
        ? `[${action.name}]`
        : action?.name;
      const line = ["fastmta", command.name, name, action ? action.args : command.args]
        .filter(Boolean).join(" ");
      assert(help.stdout.includes(`${line} [options]`), `${command.name}: usage "${line}"`);
    }
    for (const name of [...Object.keys(command.options), "config", "help"]) {
      assertMatch(
        help.stdout,
        new RegExp(`^  (-\\w, )?--${name}\\b`, "m"),
        `${command.name} --${name}`,
      );
    }
    assertMatch(help.stdout, /^Database: /m);
    for (const line of help.stdout.split("\n")) {
      assert(line.length <= 100, `${command.name} --help: line over 100 columns: ${line}`);
    }
  }
  // --help wins over everything else on the line, and one action's help shows only its options.
  const generate = await run(["dkim", "generate", "--help", "--bogus"]);
  assertEquals(generate.code, 0);
  assertMatch(generate.stdout, /^Usage: fastmta dkim generate DOMAIN SELECTOR \[options\]$/m);
  assert(!generate.stdout.includes("fastmta dkim list"));
  assertEquals((await run(["help", "dkim", "generate"])).stdout, generate.stdout);
  const list2 = await run(["help", "dkim", "list"]);
  assert(!list2.stdout.includes("--bits"), list2.stdout);
  assertEquals((await run(["help", "nope"])).code, 2);
});

Deno.test("registry entries are well formed", () => {
  const names = COMMANDS.map((c) => c.name);
  assertEquals(new Set(names).size, names.length, "command names are unique");
  for (const command of COMMANDS) {
    assert(!("config" in command.options) && !("help" in command.options), command.name);
    for (const action of command.subcommands ?? []) {
      for (const option of action.options ?? []) {
        assert(option in command.options, `${command.name} ${action.name}: --${option}`);
      }
    }
    // Every option is reachable: a command with actions must list it under one of them.
    if (command.subcommands) {
      for (const option of Object.keys(command.options)) {
        assert(
          command.subcommands.some((a) => a.options?.includes(option)),
          `${command.name} --${option} is taken by no action`,
        );
      }
    }
  }
});
