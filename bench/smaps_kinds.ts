/**
 * A process's proportional memory (Pss) by kind of mapping, from `/proc/<pid>/smaps`: what a peak
 * is made of (docs/performance.md, "Memory"). Kinds:
 * - `v8`: anonymous read-write mappings aligned to and sized in V8's 256 KB pages (heap pages;
 *   adjacent ones merge into one mapping);
 * - `arena`: glibc malloc's thread arenas (a 64 MB-aligned read-write mapping with its reserved
 *   `---p` rest behind it);
 * - `brk`: `[heap]`, malloc's main arena;
 * - `binary`: the file pages of the `deno` executable (shared with every Deno process on the
 *   machine, so their Pss share moves with how many run);
 * - `code`: anonymous executable mappings (V8's code pages);
 * - `stack`, `files` (other file mappings: libraries, SQLite's shared memory), `anon` (the rest).
 */

/** Pss in KB by kind, and the largest single mappings. */
export interface SmapsKinds {
  kb: Record<string, number>;
  total: number;
  top: { kind: string; start: string; sizeKb: number; pssKb: number; name: string }[];
}

const PAGE = 256 * 1024;
const ARENA = 64 * 1024 * 1024;

interface Mapping {
  start: bigint;
  end: bigint;
  perms: string;
  name: string;
  pssKb: number;
}

function parse(text: string): Mapping[] {
  const out: Mapping[] = [];
  let cur: Mapping | null = null;
  for (const line of text.split("\n")) {
    const head = line.match(/^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/);
    if (head) {
      cur = {
        start: BigInt("0x" + head[1]),
        end: BigInt("0x" + head[2]),
        perms: head[3],
        name: head[4],
        pssKb: 0,
      };
      out.push(cur);
    } else if (cur && line.startsWith("Pss:")) {
      cur.pssKb = Number(line.split(/\s+/)[1]);
    }
  }
  return out;
}

function kindOf(m: Mapping, next: Mapping | undefined): string {
  const size = m.end - m.start;
  if (m.name === "[heap]") return "brk";
  if (m.name.startsWith("[stack")) return "stack";
  if (m.name.endsWith("/deno") || m.name.includes("/deno ")) return "binary";
  if (m.name.startsWith("/")) return "files";
  if (m.name.startsWith("[")) return "anon";
  if (m.perms.includes("x")) return "code";
  if (
    m.start % BigInt(ARENA) === 0n && next && next.start === m.end &&
    next.perms.startsWith("---") &&
    next.end - m.start === BigInt(ARENA)
  ) return "arena";
  if (m.start % BigInt(ARENA) === 0n && size === BigInt(ARENA)) return "arena";
  if (m.perms.startsWith("rw") && m.start % BigInt(PAGE) === 0n && size % BigInt(PAGE) === 0n) {
    return "v8";
  }
  return "anon";
}

/** Reads `/proc/<pid>/smaps`; null once the process is gone. */
export function smapsKinds(pid: number, topN = 0): SmapsKinds | null {
  let text: string;
  try {
    text = Deno.readTextFileSync(`/proc/${pid}/smaps`);
  } catch {
    return null;
  }
  const maps = parse(text);
  const kb: Record<string, number> = {};
  let total = 0;
  const all: SmapsKinds["top"] = [];
  maps.forEach((m, i) => {
    const kind = kindOf(m, maps[i + 1]);
    kb[kind] = (kb[kind] ?? 0) + m.pssKb;
    total += m.pssKb;
    if (topN) {
      all.push({
        kind,
        start: m.start.toString(16),
        sizeKb: Number((m.end - m.start) / 1024n),
        pssKb: m.pssKb,
        name: m.name,
      });
    }
  });
  const top = topN ? all.sort((a, b) => b.pssKb - a.pssKb).slice(0, topN) : [];
  return { kb, total, top };
}
