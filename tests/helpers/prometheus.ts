/**
 * A real Prometheus server on loopback scraping one target every second, and `promtool check
 * metrics` (both from Debian's `prometheus` package). `await using` stops the server and removes
 * its folder.
 */
import { freePort, tempDir, waitForPort } from "./net.ts";

/** A running Prometheus. */
export interface Prometheus extends AsyncDisposable {
  readonly url: string;
  /** The value of an instant query's first sample, or null when it has none. */
  query(expr: string): Promise<number | null>;
  /** Prometheus's own output so far (for failures). */
  output(): string;
}

/** Whether the Prometheus binaries are installed. */
export async function havePrometheus(): Promise<boolean> {
  const found = await Promise.all(
    ["/usr/bin/prometheus", "/usr/bin/promtool"].map((p) =>
      Deno.stat(p).then(() => true, () => false)
    ),
  );
  return found.every(Boolean);
}

/**
 * Starts Prometheus scraping `target` ("host:port", path /metrics) every second, with
 * `bearer` as its Authorization credentials when given.
 */
export async function startPrometheus(target: string, bearer?: string): Promise<Prometheus> {
  const dir = tempDir("fastmta-prometheus-");
  const port = freePort();
  await Deno.writeTextFile(
    `${dir.path}/prometheus.yml`,
    [
      "global:",
      "  scrape_interval: 1s",
      "  evaluation_interval: 1s",
      "scrape_configs:",
      "  - job_name: fastmta",
      ...(bearer ? ["    authorization:", `      credentials: "${bearer}"`] : []),
      "    static_configs:",
      `      - targets: ["${target}"]`,
      "",
    ].join("\n"),
  );
  const child = new Deno.Command("prometheus", {
    args: [
      `--config.file=${dir.path}/prometheus.yml`,
      `--storage.tsdb.path=${dir.path}/data`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  let log = "";
  const decoder = new TextDecoder();
  const read = (stream: ReadableStream<Uint8Array>) =>
    stream.pipeTo(new WritableStream({ write: (chunk) => void (log += decoder.decode(chunk)) }))
      .catch(() => {});
  const readers = Promise.all([read(child.stdout), read(child.stderr)]);
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
    await child.status;
    await readers;
    await dir[Symbol.asyncDispose]();
  };
  try {
    await waitForPort("127.0.0.1", port, 30_000);
  } catch (error) {
    await stop();
    throw new Error(`prometheus did not start: ${(error as Error).message}\n${log}`);
  }
  return {
    url,
    output: () => log,
    async query(expr) {
      const response = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`);
      const body = await response.json() as {
        status: string;
        data?: { result: { value: [number, string] }[] };
      };
      if (body.status !== "success") throw new Error(`query failed: ${JSON.stringify(body)}`);
      const first = body.data?.result[0];
      return first ? Number(first.value[1]) : null;
    },
    [Symbol.asyncDispose]: stop,
  };
}

/** Runs `promtool check metrics` on `exposition`; returns its exit code and output. */
export async function promtoolCheck(exposition: string): Promise<{ code: number; output: string }> {
  const child = new Deno.Command("promtool", {
    args: ["check", "metrics"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(exposition));
  await writer.close();
  const out = await child.output();
  const decoder = new TextDecoder();
  return { code: out.code, output: decoder.decode(out.stdout) + decoder.decode(out.stderr) };
}
