/**
 * Layers that point one way: every import between the program's folders must be in `ALLOWED`
 * (the table docs/layers.md shows), and no file may import itself through others. Read with
 * `deno info --json` from each entry point, so the import map, type-only and dynamic imports
 * count as Deno resolves them. Fails naming each cycle and each forbidden edge.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { assertEquals } from "./helpers/assert.ts";
import {
  fileCycles,
  forbiddenEdges,
  type ImportEdge,
  importGraph,
  layerOf,
} from "./helpers/import_graph.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/**
 * Which folders each folder may import, bottom layer first. A folder imports its own files
 * freely; `core` is the files directly in core/ (log, bytes, heap budget).
 */
export const ALLOWED: Record<string, readonly string[]> = {
  "core": [],
  "core/mail": [],
  "core/connection": [],
  "core/api": [],
  "migrations": [],
  "core/spool": [],
  "core/contracts": ["core/mail"],
  "core/metrics": ["core"],
  "core/config": ["core/connection", "core/contracts", "core/mail", "core"],
  "core/store": [
    "core/config",
    "core/connection",
    "core/contracts",
    "core/mail",
    "core",
    "core/metrics",
    "core/spool",
    "migrations",
  ],
  "core/queue": [
    "core/store",
    "core/config",
    "core/contracts",
    "core/mail",
    "core/metrics",
    "core",
  ],
  "core/events": [
    "core/queue",
    "core/store",
    "core/config",
    "core/contracts",
    "core/mail",
    "core/metrics",
    "core",
  ],
  "core/auth": [
    "core/store",
    "core/config",
    "core",
    "core/metrics",
  ],
  "core/dkim": [
    "core/store",
    "core/config",
    "core",
    "core/metrics",
  ],
  "core/routing": [
    "core/store",
    "core/config",
    "core/contracts",
    "core/mail",
    "core",
    "core/metrics",
  ],
  "core/cluster": [
    "core/queue",
    "core/store",
    "core/config",
    "core/contracts",
    "core",
    "core/metrics",
  ],
  "core/accept": [
    "core/queue",
    "core/store",
    "core/config",
    "core/contracts",
    "core/mail",
    "core",
    "core/events",
    "core/metrics",
  ],
  "core/bounce": [
    "core/accept",
    "core/queue",
    "core/store",
    "core/config",
    "core/contracts",
    "core/mail",
    "core",
    "core/events",
    "core/metrics",
  ],
  "core/inbound": [
    "core/accept",
    "core/auth",
    "core/queue",
    "core/store",
    "core/config",
    "core/contracts",
    "core/mail",
    "core",
    "core/events",
    "core/metrics",
  ],
  "core/schedule": [
    "core/routing",
    "core/queue",
    "core/store",
    "core/config",
    "core/contracts",
    "core",
    "core/events",
    "core/metrics",
  ],
  "core/settle": [
    "core/queue",
    "core/store",
    "core/contracts",
    "core",
    "core/events",
    "core/metrics",
  ],
  "core/delivery": [
    "core/settle",
    "core/routing",
    "core/cluster",
    "core/queue",
    "core/store",
    "core/config",
    "core/contracts",
    "core/mail",
    "core",
    "core/events",
    "core/metrics",
  ],
  "core/manage": coreFolders(),
  "islands": ["core/api"],
  "routes": [...coreFolders(), "islands"],
  "workers": coreFolders(),
  "cli": [...coreFolders(), "workers", "routes", "migrations"],
  "main": ["cli", "core/config", "core"],
  "scripts": ["cli", "core/config", "tests"],
};

/** Every folder under core/ (and core's own files): what the entry layers may use. */
function coreFolders(): string[] {
  return [
    "core",
    "core/mail",
    "core/connection",
    "core/api",
    "core/contracts",
    "core/config",
    "core/store",
    "core/queue",
    "core/auth",
    "core/dkim",
    "core/routing",
    "core/cluster",
    "core/accept",
    "core/bounce",
    "core/inbound",
    "core/schedule",
    "core/settle",
    "core/delivery",
    "core/metrics",
    "core/events",
    "core/manage",
  ];
}

/**
 * Where the program starts: every script a task of deno.json runs, bundles or compiles in (the
 * CLI, the Web Workers, the islands bundle, the docs generators) and each `workers/*_worker.ts`.
 */
async function entryPoints(): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json")));
  const entries = new Set<string>();
  for (const task of Object.values(config.tasks as Record<string, string>)) {
    for (const [path] of task.matchAll(/(?<![\w./-])[\w/]+\.tsx?(?![\w.])/g)) {
      if (!/^(bench|tests)\//.test(path)) entries.add(path);
    }
  }
  for await (const entry of Deno.readDir(join(ROOT, "workers"))) {
    if (/^[a-z].*_worker\.ts$/.test(entry.name)) entries.add(`workers/${entry.name}`);
  }
  return [...entries].sort();
}

/** The program's source files (tests and benchmarks are not part of the layering). */
async function sourceFiles(dir = ROOT, rel = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = rel ? `${rel}/${entry.name}` : entry.name;
    if (entry.isDirectory) {
      if (
        ["core", "cli", "workers", "routes", "islands", "migrations", "scripts"].includes(
          path.split("/")[0],
        )
      ) {
        out.push(...await sourceFiles(join(dir, entry.name), path));
      }
    } else if (/\.tsx?$/.test(entry.name) && !entry.name.endsWith(".d.ts") && rel !== "") {
      out.push(path);
    }
  }
  return out.sort();
}

let graph: Promise<ImportEdge[]> | null = null;
function programGraph(): Promise<ImportEdge[]> {
  return graph ??= entryPoints().then((entries) => importGraph(ROOT, entries));
}

Deno.test("layers: the checker names a cycle and a forbidden edge", () => {
  const edges: ImportEdge[] = [
    { from: "core/queue/mod.ts", to: "core/queue/embedded.ts", typeOnly: false },
    { from: "core/queue/embedded.ts", to: "core/queue/mod.ts", typeOnly: true },
    { from: "core/store/mod.ts", to: "core/queue/mod.ts", typeOnly: false },
  ];
  assertEquals(fileCycles(edges), [
    "core/queue/embedded.ts → core/queue/mod.ts → core/queue/embedded.ts",
  ]);
  assertEquals(forbiddenEdges(edges, ALLOWED), [
    "core/store → core/queue is not allowed (core/store/mod.ts → core/queue/mod.ts)",
  ]);
  assertEquals(
    forbiddenEdges([{ from: "core/x/a.ts", to: "core/y.ts", typeOnly: false }], ALLOWED),
    [
      "core/x: folder not in the layer table (core/x/a.ts)",
    ],
  );
  assertEquals(layerOf("main.ts"), "main");
  assertEquals(layerOf("core/log.ts"), "core");
});

Deno.test("layers: no file imports itself through others", async () => {
  assertEquals(fileCycles(await programGraph()), []);
});

Deno.test("layers: every folder edge is in the table", async () => {
  assertEquals(forbiddenEdges(await programGraph(), ALLOWED), []);
});

Deno.test("layers: every source file is reached from an entry point, so the check sees it", async () => {
  const reached = new Set(await entryPoints());
  for (const { from, to } of await programGraph()) reached.add(from).add(to);
  assertEquals((await sourceFiles()).filter((path) => !reached.has(path)), []);
});

Deno.test("layers: docs/layers.md shows the same table", async () => {
  const text = await Deno.readTextFile(join(ROOT, "docs/layers.md"));
  const rows: Record<string, string[]> = {};
  for (const [, folder, imports] of text.matchAll(/^\|\s*`([^`]+)`\s*\|([^|]*)\|\s*$/gm)) {
    const names = [...imports.matchAll(/`([^`]+)`/g)].map((m) => m[1]);
    rows[folder] = names.flatMap((name) => name === "core/…" ? coreFolders() : [name]).sort();
  }
  const expected = Object.fromEntries(
    Object.entries(ALLOWED).map(([folder, imports]) => [folder, [...imports].sort()]),
  );
  assertEquals(rows, expected);
});
