/**
 * Per-recipient CPU of two hot paths, in µs, for one or more checkouts (A/B in one process):
 * the own SMTP engine's command layer for one RCPT (runCommand → RCPT → handler → reply text)
 * and the text of the multi-row INSERTs settle and accept build (attempts: 20 columns,
 * recipients: 8; 20 units × 10 recipients per statement). Issue 19.
 *
 *   deno run -A bench/rcpt_micro.ts /work/wt/base .
 */
// deno-lint-ignore-file no-explicit-any
const trees = Deno.args.length ? Deno.args : ["."];
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function rcptCommand(tree: string): Promise<number> {
  const { runCommand } = await import(`${tree}/core/inbound/engine/commands.ts`);
  const { formatReply } = await import(`${tree}/core/inbound/engine/replies.ts`);
  const session: any = { envelope: { mailFrom: { address: "a@bench.local" }, rcptTo: [] } };
  let reply = "";
  const c: any = {
    upgrading: false,
    host: {
      shuttingDown: false,
      options: {},
      handlers: { onRcptTo: (_a: unknown, _s: unknown, done: () => void) => done() },
    },
    isSupported: () => true,
    hostNameAppearsAs: "client",
    unrecognized: 0,
    session,
    send: (code: number, text: string, choice?: string) => reply = formatReply(code, text, choice),
    wait: () => () => {},
  };
  const n = 200_000;
  const runs: number[] = [];
  for (let round = 0; round < 7; round++) {
    const started = performance.now();
    for (let i = 0; i < n; i++) {
      if (session.envelope.rcptTo.length >= 10) session.envelope.rcptTo = [];
      runCommand(c, `RCPT TO:<${i % 10}b@example.com>`, true);
    }
    runs.push((performance.now() - started) * 1000 / n);
  }
  if (reply !== "250 2.1.5 Accepted\r\n") throw new Error(`unexpected reply ${reply}`);
  return median(runs);
}

async function insertText(tree: string): Promise<[number, number]> {
  const { insertRowsQuery } = await import(`${tree}/core/store/bulk_insert.ts`);
  const attempts: Record<string, unknown>[] = [];
  const recipients: Record<string, unknown>[] = [];
  for (let u = 0; u < 20; u++) {
    const message = `2393LF8SFFVP9${String(u).padStart(3, "0")}`;
    for (let r = 0; r < 10; r++) {
      attempts.push({
        message_id: message,
        unit_id: `${message}.0`,
        domain: "example.com",
        node_id: "bench",
        site: "mx.example.com",
        pool: null,
        at: 1_700_000_000_000 + u,
        recipient: `${r}b@example.com`,
        outcome: "delivered",
        code: 250,
        reply: "250 2.0.0 Ok: queued",
        source_ip: "127.0.0.1",
        mx_host: "127.43.0.3",
        remote_ip: "127.43.0.3",
        tls: 0,
        tls_version: null,
        tls_verified: 0,
        duration_ms: 3,
        reason: null,
        category: null,
      });
      recipients.push({
        unit_id: `${message}.0`,
        message_id: message,
        address: `${r}b@example.com`,
        state: "queued",
        attempts: 0,
        last_code: null,
        last_reply: null,
        updated_at: 1_700_000_000_000,
      });
    }
  }
  const n = 3_000;
  const perRow = (rows: Record<string, unknown>[], table: string) => {
    const runs: number[] = [];
    for (let round = 0; round < 7; round++) {
      const started = performance.now();
      for (let i = 0; i < n; i++) insertRowsQuery("sqlite3", table, rows);
      runs.push((performance.now() - started) * 1000 / n / rows.length);
    }
    return median(runs);
  };
  return [perRow(attempts, "attempts"), perRow(recipients, "recipients")];
}

for (const tree of trees) {
  const rcpt = await rcptCommand(tree);
  const [attempts, recipients] = await insertText(tree);
  console.log(
    `${tree}: RCPT command ${rcpt.toFixed(2)} µs; INSERT text per row: attempts ${
      attempts.toFixed(2)
    } µs, recipients ${recipients.toFixed(2)} µs (medians of 7)`,
  );
}
