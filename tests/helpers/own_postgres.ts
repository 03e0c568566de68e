/**
 * A PostgreSQL server of the test's own (initdb + pg_ctl from /usr/lib/postgresql/<v>/bin, run
 * as the `postgres` user when this process is root), on a free loopback port in a temp folder,
 * so a test may stop and start it without touching the shared one on 5432. Trust
 * authentication: any password in the connection string is accepted (and ignored).
 */
import { freePort, type TempDir, tempDir } from "./net.ts";

/** A private PostgreSQL. */
export interface OwnPostgres extends AsyncDisposable {
  readonly port: number;
  /** `postgres://postgres:<password>@127.0.0.1:<port>/postgres`. */
  connection(password?: string): string;
  stop(): Promise<void>;
  start(): Promise<void>;
}

function binDir(): string | null {
  try {
    const versions = [...Deno.readDirSync("/usr/lib/postgresql")].map((e) => e.name).sort();
    const last = versions.at(-1);
    return last ? `/usr/lib/postgresql/${last}/bin` : null;
  } catch {
    return null;
  }
}

/** Whether initdb and pg_ctl are installed. */
export function havePostgresBinaries(): boolean {
  const bin = binDir();
  if (!bin) return false;
  try {
    Deno.statSync(`${bin}/initdb`);
    Deno.statSync(`${bin}/pg_ctl`);
    return true;
  } catch {
    return false;
  }
}

async function run(program: string, args: string[]): Promise<void> {
  const asRoot = Deno.uid() === 0;
  const out = await new Deno.Command(asRoot ? "runuser" : program, {
    args: asRoot ? ["-u", "postgres", "--", program, ...args] : args,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).output();
  if (!out.success) {
    const decoder = new TextDecoder();
    throw new Error(
      `${program} ${args.join(" ")} failed: ${decoder.decode(out.stdout)}${
        decoder.decode(out.stderr)
      }`,
    );
  }
}

/** Creates and starts the server. */
export async function startOwnPostgres(): Promise<OwnPostgres> {
  const bin = binDir();
  if (!bin) throw new Error("no PostgreSQL binaries under /usr/lib/postgresql");
  const dir: TempDir = tempDir("fastmta-own-pg-");
  const port = freePort();
  if (Deno.uid() === 0) {
    await Deno.chmod(dir.path, 0o755);
    await new Deno.Command("chown", { args: ["-R", "postgres:postgres", dir.path] }).output();
  }
  const data = `${dir.path}/data`;
  await run(`${bin}/initdb`, ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync"]);
  const options =
    `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${dir.path}` +
    " -c fsync=off";
  const start = () =>
    run(`${bin}/pg_ctl`, ["-D", data, "-l", `${dir.path}/log`, "-o", options, "-w", "start"]);
  const stop = () => run(`${bin}/pg_ctl`, ["-D", data, "-m", "immediate", "-w", "stop"]);
  await start();
  let running = true;
  return {
    port,
    connection: (password = "unused") =>
      `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`,
    async stop() {
      await stop();
      running = false;
    },
    async start() {
      await start();
      running = true;
    },
    async [Symbol.asyncDispose]() {
      if (running) await stop().catch(() => {});
      await dir[Symbol.asyncDispose]();
    },
  };
}
