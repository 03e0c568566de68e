/**
 * Statements per message by kind for the distributed bench, opt-in with
 * `FASTMTA_BENCH_PG_STATEMENTS=1`: the run's own (throwaway) database gets
 * `log_min_duration_statement = 0`, so PostgreSQL logs every statement its backends run to the
 * server log, and the counters read that log for the run's database, one counter per statement
 * shape (literals and parameter lists folded). `pg_stat_statements` would say the same but needs
 * `shared_preload_libraries` (a server restart); the log needs only the database setting.
 *
 * Reads the server log at PG_LOG (default /var/log/postgresql/postgresql-15-main.log).
 */

/** Whether statement logging was asked for. */
export function statementsWanted(): boolean {
  return Deno.env.get("FASTMTA_BENCH_PG_STATEMENTS") === "1";
}

const LOG = Deno.env.get("PG_LOG") ?? "/var/log/postgresql/postgresql-15-main.log";

/** The server log's size now (where this run's lines start). */
export function logOffset(): number {
  try {
    return Deno.statSync(LOG).size;
  } catch {
    return 0;
  }
}

/** A statement's shape: lower case, placeholders and lists folded, at most 90 characters. */
export function statementShape(sql: string): string {
  return sql.toLowerCase()
    .replace(/\$\d+/g, "?")
    .replace(/'(?:[^']|'')*'/g, "?")
    .replace(/\b\d+\b/g, "?")
    .replace(/\(\s*\?(?:\s*,\s*\?)*\s*\)/g, "(…)")
    .replace(/(?:\(…\)\s*,\s*)+\(…\)/g, "(…)…")
    .replace(/"/g, "")
    .replace(/\s+/g, " ")
    .trim()
    .slice(0, 90);
}

// `%m [%p] %q%u@%d `: this server's log_line_prefix (Debian's default). Extended-protocol
// statements log three lines (parse, bind, execute), each with its own duration.
const LINE =
  /^\S+ \S+ \S+ \[\d+\] \S+@(\S+) LOG:\s+duration: ([\d.]+) ms\s+(statement|parse|bind|execute)(?: [^:]*)?: (.*)$/;

/**
 * Counts of statements by shape logged since `offset` in database `db` (absolute counts from
 * the run's start: the bench subtracts the snapshot before the load).
 */
export async function statementCounts(
  offset: number,
  db: string,
): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  let text: string;
  try {
    text = new TextDecoder().decode((await Deno.readFile(LOG)).subarray(offset));
  } catch {
    return out;
  }
  let total = 0;
  for (const line of text.split("\n")) {
    const m = LINE.exec(line);
    if (!m || m[1] !== db) continue;
    const [, , ms, phase, text] = m;
    const shape = statementShape(text);
    // Server time (wall, in the backend) per phase and per shape: where the backends' CPU goes.
    out[`pg ms ${phase}`] = (out[`pg ms ${phase}`] ?? 0) + Number(ms);
    out[`pg ms in ${shape}`] = (out[`pg ms in ${shape}`] ?? 0) + Number(ms);
    if (phase !== "statement" && phase !== "execute") continue;
    const key = `pg stmt ${shape}`;
    out[key] = (out[key] ?? 0) + 1;
    total++;
  }
  out["pg statements"] = total;
  return out;
}
