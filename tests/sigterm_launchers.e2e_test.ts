/**
 * Issue 18: SIGTERM to the process the README's start commands create stops the server. `deno
 * task start` passes the signal on; `npx -y deno@2.9.6 task start` puts `npm exec` and a shell
 * in front, which die and used to leave the server running and listening (cli/launcher_watch.ts
 * now stops it when its launcher is gone). Each run is found by a marker in its environment, so
 * the test can tell that no process of it is left.
 */
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { freePort, tempDir, waitForPort } from "./helpers/net.ts";
import { repoRoot, runCli } from "./helpers/server_process.ts";
import { waitUntil } from "./helpers/wait.ts";

/** Pids of the processes whose environment holds `marker`. */
function processesWith(marker: string): number[] {
  const found: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      if (Deno.readTextFileSync(`/proc/${entry.name}/environ`).includes(marker)) {
        found.push(Number(entry.name));
      }
    } catch {
      // gone, or not ours to read
    }
  }
  return found;
}

async function portOpen(port: number): Promise<boolean> {
  try {
    (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    return true;
  } catch {
    return false;
  }
}

async function startAndTerminate(command: string, args: string[]) {
  await using dir = tempDir("fastmta-sigterm-");
  const smtpPort = freePort();
  const adminPort = freePort();
  const configPath = `${dir.path}/app.json`;
  await Deno.writeTextFile(
    configPath,
    JSON.stringify({
      data_dir: `${dir.path}/data`,
      smtp: { listen: [`127.0.0.1:${smtpPort}`], workers: 1 },
      admin: { listen: `127.0.0.1:${adminPort}` },
      dns: { servers: [`127.0.0.1:${freePort()}`] },
      delivery: { workers: 1 },
    }),
  );
  // The schema first, with the CLI, so the launcher's start-up is only the server's own.
  const migrated = await runCli(["migrate", "--config", configPath]);
  assertEquals(migrated.code, 0, migrated.stderr);
  const marker = `FASTMTA_SIGTERM_TEST=${crypto.randomUUID()}`;
  const [key, value] = marker.split("=");
  const child = new Deno.Command(command, {
    args,
    cwd: repoRoot(),
    env: { FASTMTA_CONFIG: configPath, NO_COLOR: "1", [key]: value },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let output = "";
  const decoder = new TextDecoder();
  const read = (stream: ReadableStream<Uint8Array>) =>
    stream.pipeTo(new WritableStream({ write: (c) => void (output += decoder.decode(c)) }));
  const readers = Promise.all([read(child.stdout), read(child.stderr)]).catch(() => {});
  try {
    await waitForPort("127.0.0.1", smtpPort, 120_000);
    assert(processesWith(marker).length >= 2, "the launcher and the server run");
    child.kill("SIGTERM"); // the outermost process only, as a user or a supervisor would
    await waitUntil(async () => !(await portOpen(smtpPort)) && !(await portOpen(adminPort)), {
      timeoutMs: 60_000,
      message: "the server stops listening",
    });
    await waitUntil(() => processesWith(marker).length === 0, {
      timeoutMs: 60_000,
      message: "every process of the run exits",
    });
    await child.status;
    await readers;
    assertMatch(output, /serve: stopped|"component":"serve","msg":"stopped"/, output);
  } finally {
    for (const pid of processesWith(marker)) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    await child.status.catch(() => {});
  }
  return output;
}

Deno.test("SIGTERM to `deno task start` stops the server", async () => {
  const output = await startAndTerminate(Deno.execPath(), ["task", "start"]);
  assertMatch(output, /SIGTERM: shutting down/);
});

const hasNpx = new Deno.Command("sh", { args: ["-c", "command -v npx"], stdout: "null" })
  .outputSync().success;

Deno.test({
  name: "SIGTERM to `npx -y deno@2.9.6 task start` stops the server",
  ignore: !hasNpx,
  fn: async () => {
    const output = await startAndTerminate("npx", ["-y", "deno@2.9.6", "task", "start"]);
    // npm exec and its shell die of the signal; the server notices its launcher is gone.
    assertMatch(output, /(SIGTERM|launcher \d+ .*exited): shutting down/);
  },
});

Deno.test("a launcher command line is recognised, other parents are not", async () => {
  const { launchesDenoTask } = await import("../cli/launcher_watch.ts");
  for (
    const c of ["npm exec deno@2.9.6 task start", "sh -c 'deno' task start", "deno task start"]
  ) {
    assert(launchesDenoTask(c), c);
  }
  for (const c of ["bash", "-bash", "/usr/bin/deno run main.ts serve", "systemd --user", "nohup"]) {
    assertEquals(launchesDenoTask(c), false, c);
  }
});
