/** docs/cli.md is generated from the command registry: fail when the committed file is stale. */
import { assert } from "./helpers/assert.ts";
import { CLI_REFERENCE_PATH, renderCliReference } from "../cli/reference.ts";

Deno.test("docs/cli.md matches the command registry", async () => {
  const committed = await Deno.readTextFile(new URL(`../${CLI_REFERENCE_PATH}`, import.meta.url));
  assert(committed === renderCliReference(), "docs/cli.md is stale: run `deno task docs:cli`");
});
