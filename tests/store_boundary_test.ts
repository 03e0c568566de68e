/**
 * The store boundary: SQL lives in core/store/ (and the DDL in migrations/). Every other module
 * takes a role interface (`UnitStore`, `SuppressionStore`, …) and never imports Kysely, reads
 * the raw handle (`store.db`) or imports the store's SQL-level modules. Tests are exempt: they
 * look at rows directly. This scans the source tree and names each violation.
 */
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { assertEquals } from "./helpers/assert.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** Folders (from the repo root) that may use Kysely, or are not source. */
const EXEMPT = ["core/store/", "migrations/", "tests/", "data/", "bench/out/", "node_modules/"];

/** core/store/ modules that expose SQL (tables, statements, dialects): theirs alone. */
const SQL_MODULES =
  /store\/([a-z_]*tables|_sql|sql_store|batch_update|bulk_insert|[a-z_]*dialect)\.ts["']/;

const RULES: { pattern: RegExp; what: string }[] = [
  {
    pattern: /(from\s*|import\s*\(\s*)["'](npm:\/?)?kysely(@[^/"']*)?(\/[^"']*)?["']/,
    what: "imports Kysely",
  },
  { pattern: /\bstore(\(\))?\s*\.\s*db\b/i, what: "reads the store's raw Kysely handle (.db)" },
  { pattern: /\bKysely\s*</, what: "uses the Kysely type" },
  { pattern: SQL_MODULES, what: "imports a SQL-level module of core/store/" },
];

/** Drops comments, so prose may name what code must not do. */
function withoutComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, " "))
    .replace(/(^|[^:"'`])\/\/.*$/gm, "$1");
}

/** Each violation in one file, as "path:line: what". */
export function violations(path: string, text: string): string[] {
  const out: string[] = [];
  withoutComments(text).split("\n").forEach((line, i) => {
    for (const rule of RULES) {
      if (rule.pattern.test(line)) out.push(`${path}:${i + 1}: ${rule.what}: ${line.trim()}`);
    }
  });
  return out;
}

async function* sourceFiles(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    if (entry.name.startsWith(".")) continue;
    const path = join(dir, entry.name);
    const rel = relative(ROOT, path).replaceAll("\\", "/");
    if (entry.isDirectory) {
      if (!EXEMPT.includes(`${rel}/`)) yield* sourceFiles(path);
    } else if (/\.(ts|tsx)$/.test(entry.name)) {
      yield rel;
    }
  }
}

Deno.test("store boundary: the scanner recognises each kind of violation", () => {
  const sample = [
    'import { sql } from "kysely";',
    'import type { Migrator } from "kysely/migration";',
    "const rows = await this.#store.db.selectFrom('queue');",
    "const db = store.db as unknown as Kysely<OutboxTables>;",
    'import type { Tables } from "../store/tables.ts";',
    'import type { QueueTable } from "../store/mail_tables.ts";',
    'import { caseUpdateQuery } from "../store/batch_update.ts";',
    '// store.db in a comment is fine, and so is "kysely" in prose',
    'import type { UnitStore } from "../store/mod.ts";',
  ].join("\n");
  assertEquals(violations("x.ts", sample).map((v) => v.split(": ")[1]), [
    "imports Kysely",
    "imports Kysely",
    "reads the store's raw Kysely handle (.db)",
    "reads the store's raw Kysely handle (.db)",
    "uses the Kysely type",
    "imports a SQL-level module of core/store/",
    "imports a SQL-level module of core/store/",
    "imports a SQL-level module of core/store/",
  ]);
});

Deno.test("store boundary: only core/store/ and migrations/ touch Kysely or store.db", async () => {
  const found: string[] = [];
  let files = 0;
  for await (const path of sourceFiles(ROOT)) {
    files++;
    found.push(...violations(path, await Deno.readTextFile(join(ROOT, path))));
  }
  if (files < 50) throw new Error(`Cannot scan the source tree: found only ${files} files`);
  if (found.length > 0) {
    throw new Error(
      `${found.length} module(s) outside core/store/ reach into the database; take a role ` +
        `interface from core/store/mod.ts instead:\n${found.join("\n")}`,
    );
  }
});
