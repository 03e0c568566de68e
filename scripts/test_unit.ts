/**
 * `deno task test:unit`: every test file without a tag in its name (tests/helpers/test_tags.ts),
 * with the services' ports and programs denied so that a unit test that reaches for one fails
 * loudly. Arguments are passed on to `deno test` (e.g. `--filter smtp`, `--parallel`).
 *
 * @module
 */
import { UNIT_DENY_FLAGS, UNIT_RUN_ENV } from "../tests/helpers/test_tags.ts";

const args = [
  "test",
  "-A",
  "--no-check=remote",
  ...UNIT_DENY_FLAGS,
  // A tagged file is `<name>.<tag>…_test.ts`: a dot before `_test.ts`.
  "--ignore=tests/*.*_test.ts,tests/**/*.*_test.ts",
  ...Deno.args,
  "tests/",
];
const root = new URL("..", import.meta.url).pathname;
const { code } = await new Deno.Command(Deno.execPath(), {
  args,
  cwd: root,
  env: { [UNIT_RUN_ENV]: "1" },
  stdin: "inherit",
  stdout: "inherit",
  stderr: "inherit",
}).output();
Deno.exit(code);
