/**
 * The program's own import graph, read with `deno info --json` (Deno's resolver: the import map,
 * `npm:` specifiers, type-only and literal dynamic imports), and the two checks the layer test
 * makes on it: file cycles and folder edges outside an allowed table.
 */
import { pathToFileURL } from "node:url";

/** One import between two of the program's files (paths relative to the repo root). */
export interface ImportEdge {
  from: string;
  to: string;
  /** `import type` only: no code runs, but the folder still depends on the other's shapes. */
  typeOnly: boolean;
}

interface InfoModule {
  specifier: string;
  dependencies?: { code?: { specifier: string }; type?: { specifier: string } }[];
}

/** `deno info --json` of `entry`, run in `root`. */
async function denoInfo<T>(root: string, entry: string): Promise<T> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd: root,
    env: { DENO_NO_UPDATE_CHECK: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`deno info ${entry} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return JSON.parse(new TextDecoder().decode(out.stdout)) as T;
}

/** Every import between files under `root` reached from `entries`, deduplicated. */
export async function importGraph(root: string, entries: string[]): Promise<ImportEdge[]> {
  const base = pathToFileURL(root.endsWith("/") ? root : root + "/").href;
  const edges = new Map<string, ImportEdge>();
  for (const entry of entries) {
    const info = await denoInfo<{ modules: InfoModule[] }>(root, entry);
    for (const module of info.modules) {
      if (!module.specifier.startsWith(base)) continue;
      const from = module.specifier.slice(base.length);
      for (const dep of module.dependencies ?? []) {
        const code = dep.code?.specifier;
        const to = code ?? dep.type?.specifier;
        if (!to?.startsWith(base)) continue;
        const edge = { from, to: to.slice(base.length), typeOnly: code === undefined };
        const key = `${edge.from} ${edge.to}`;
        const seen = edges.get(key);
        if (!seen || (seen.typeOnly && !edge.typeOnly)) edges.set(key, edge);
      }
    }
  }
  return [...edges.values()];
}

/** What an entry point loads before any of its code runs: `import()` edges are not followed. */
export interface StaticLoad {
  /** The program's files, relative to the repo root. */
  files: Set<string>;
  /** npm packages by name (no version; a subpath also as `name/sub`), each with the first
   * program file that imports it. */
  npm: Map<string, string>;
}

interface StaticInfoModule {
  specifier: string;
  dependencies?: { code?: { specifier: string }; isDynamic?: boolean }[];
}

/**
 * The static load of `entry` (a path under `root`): every file and npm package reached through
 * plain `import`/`export … from` of code, which an isolate evaluates at start-up. A package only
 * `import()`ed is left out: it costs nothing until its first use.
 */
export async function staticLoad(root: string, entry: string): Promise<StaticLoad> {
  const base = pathToFileURL(root.endsWith("/") ? root : root + "/").href;
  const info = await denoInfo<{
    roots: string[];
    modules: StaticInfoModule[];
    redirects?: Record<string, string>;
  }>(root, entry);
  const modules = new Map(info.modules.map((m) => [m.specifier, m]));
  const load: StaticLoad = { files: new Set(), npm: new Map() };
  const todo = [...info.roots];
  const seen = new Set<string>();
  while (todo.length > 0) {
    const specifier = todo.pop()!;
    if (seen.has(specifier) || !specifier.startsWith(base)) continue;
    seen.add(specifier);
    const from = specifier.slice(base.length);
    load.files.add(from);
    for (const dep of modules.get(specifier)?.dependencies ?? []) {
      const code = dep.code?.specifier;
      if (!code || dep.isDynamic) continue;
      const to = info.redirects?.[code] ?? code;
      const npm = /^npm:\/?((?:@[^/@]+\/)?[^/@]+)(?:@[^/]*)?(\/.*)?$/.exec(to);
      if (npm) {
        // The package, and the subpath too ("kysely/migration").
        for (const name of [npm[1], npm[2] ? npm[1] + npm[2] : null]) {
          if (name && !load.npm.has(name)) load.npm.set(name, from);
        }
      } else todo.push(to);
    }
  }
  return load;
}

/** The folder a file belongs to for layering: `core/<folder>`, `core` (its own files), `cli`, … */
export function layerOf(path: string): string {
  const parts = path.split("/");
  if (parts.length === 1) return parts[0].replace(/\.tsx?$/, "");
  if (parts[0] === "core" && parts.length > 2) return `core/${parts[1]}`;
  return parts[0];
}

/** Each folder edge the table does not allow, as "a → b (file → file)"; unknown folders too. */
export function forbiddenEdges(
  edges: ImportEdge[],
  allowed: Record<string, readonly string[]>,
): string[] {
  const out = new Set<string>();
  for (const { from, to, typeOnly } of edges) {
    const [a, b] = [layerOf(from), layerOf(to)];
    if (a === b) continue;
    if (!(a in allowed)) out.add(`${a}: folder not in the layer table (${from})`);
    else if (!allowed[a].includes(b)) {
      out.add(`${a} → ${b} is not allowed (${from} → ${to}${typeOnly ? ", type only" : ""})`);
    }
  }
  return [...out].sort();
}

/** Each file cycle, as "a → b → … → a", one per strongly connected set of files. */
export function fileCycles(edges: ImportEdge[]): string[] {
  const next = new Map<string, string[]>();
  for (const { from, to } of edges) next.set(from, [...(next.get(from) ?? []), to]);
  const cycles: string[] = [];
  for (const group of stronglyConnected(next)) {
    if (group.length > 1) cycles.push(cycleThrough(group[0], new Set(group), next).join(" → "));
  }
  return cycles.sort();
}

/** Tarjan's algorithm, iterative (the graph has a few hundred files). */
function stronglyConnected(next: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const groups: string[][] = [];
  for (const start of next.keys()) {
    if (index.has(start)) continue;
    const work: { node: string; child: number }[] = [{ node: start, child: 0 }];
    while (work.length > 0) {
      const frame = work[work.length - 1];
      const { node } = frame;
      if (frame.child === 0 && !index.has(node)) {
        index.set(node, index.size);
        low.set(node, index.get(node)!);
        stack.push(node);
        onStack.add(node);
      }
      const children = next.get(node) ?? [];
      if (frame.child < children.length) {
        const child = children[frame.child++];
        if (!index.has(child)) work.push({ node: child, child: 0 });
        else if (onStack.has(child)) low.set(node, Math.min(low.get(node)!, index.get(child)!));
        continue;
      }
      work.pop();
      if (work.length > 0) {
        const parent = work[work.length - 1].node;
        low.set(parent, Math.min(low.get(parent)!, low.get(node)!));
      }
      if (low.get(node) === index.get(node)) {
        const group: string[] = [];
        let member: string;
        do {
          member = stack.pop()!;
          onStack.delete(member);
          group.push(member);
        } while (member !== node);
        groups.push(group.sort());
      }
    }
  }
  return groups;
}

/** The shortest path from `start` back to itself inside `group` (breadth first). */
function cycleThrough(start: string, group: Set<string>, next: Map<string, string[]>): string[] {
  const cameFrom = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const node = queue.shift()!;
    for (const child of next.get(node) ?? []) {
      if (!group.has(child)) continue;
      if (child === start) {
        const path: string[] = [];
        for (let at = node; at !== start; at = cameFrom.get(at)!) path.unshift(at);
        return [start, ...path, start];
      }
      if (!cameFrom.has(child)) {
        cameFrom.set(child, node);
        queue.push(child);
      }
    }
  }
  return [start];
}
