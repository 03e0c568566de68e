/**
 * docs/cli.md, rendered from the command registry: each command's `--help` text verbatim, so the
 * reference and the program cannot disagree. tests/docs_cli_test.ts fails when the committed
 * file is stale; `deno task docs:cli` writes it.
 */
import { renderCommandList, renderHelp, wrap } from "./_help.ts";
import { COMMANDS } from "./mod.ts";

/** Where the reference is committed, relative to the repository root. */
export const CLI_REFERENCE_PATH = "docs/cli.md";

/** The Markdown of docs/cli.md. */
export function renderCliReference(): string {
  const block = (text: string) => "```text\n" + text + "\n```";
  const sections = [
    "# Command-line reference",
    "<!-- Generated from the command registry (cli/mod.ts) by `deno task docs:cli`: do not edit. -->",
    // Wrapped as `deno fmt` wraps Markdown prose, so the committed file is also fmt-clean.
    wrap(
      "Each command below is also `fastmta <command> --help`. Options are checked strictly: an " +
        "option the command does not take, or a bad value, exits 2 and names it.",
      100,
    ),
    block(renderCommandList(COMMANDS)),
    ...COMMANDS.flatMap((c) => [`## ${c.name}`, block(renderHelp(c))]),
  ];
  return sections.join("\n\n") + "\n";
}

if (import.meta.main) {
  const path = new URL(`../${CLI_REFERENCE_PATH}`, import.meta.url);
  await Deno.writeTextFile(path, renderCliReference());
  console.log(`wrote ${CLI_REFERENCE_PATH}`);
}
