/**
 * Regenerates the documentation that is made from code, so that it cannot drift from it:
 * `deno task docs` writes every file of GENERATED_DOCS; `--check` only reports stale ones (exit
 * 1). tests/docs_reference_test.ts runs the same comparison.
 */
import { renderConfigReference } from "../core/config/reference.ts";
import { CLI_REFERENCE_PATH, renderCliReference } from "../cli/reference.ts";
import { OBSERVABILITY_PATH, renderObservability } from "../cli/metrics_reference.ts";

/** One generated file: its path from the repository root and how to render it. */
export interface GeneratedDoc {
  path: string;
  render: () => string | Promise<string>;
}

/** Every generated document. */
export const GENERATED_DOCS: GeneratedDoc[] = [
  { path: "docs/configuration.md", render: renderConfigReference },
  { path: CLI_REFERENCE_PATH, render: renderCliReference },
  { path: OBSERVABILITY_PATH, render: renderObservability },
];

const ROOT = new URL("..", import.meta.url);

/** The generated files whose committed text differs from a fresh rendering. */
export async function staleDocs(): Promise<string[]> {
  const stale: string[] = [];
  for (const doc of GENERATED_DOCS) {
    const fresh = await doc.render();
    const committed = await Deno.readTextFile(new URL(doc.path, ROOT)).catch(() => null);
    if (committed !== fresh) stale.push(doc.path);
  }
  return stale;
}

if (import.meta.main) {
  if (Deno.args.includes("--check")) {
    const stale = await staleDocs();
    for (const path of stale) console.error(`${path} is stale: run "deno task docs"`);
    Deno.exit(stale.length > 0 ? 1 : 0);
  }
  for (const doc of GENERATED_DOCS) {
    await Deno.writeTextFile(new URL(doc.path, ROOT), await doc.render());
    console.log(`wrote ${doc.path}`);
  }
}
