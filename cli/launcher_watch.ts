/**
 * Stopping with the launcher. `deno task start` runs the server as its child and passes SIGTERM
 * on, but the README's `npx -y deno@2.9.6 task start` puts `npm exec` and `sh -c deno …` in
 * front of it: SIGTERM to the outermost process kills those two and leaves `deno task` and the
 * server running, orphaned. So when the server was started by `deno task` (its parent's command
 * line says so), it watches that parent and every launcher above it whose command line runs
 * `deno … task` (npm exec, the sh shim), and stops — the same graceful stop as on SIGTERM —
 * once one of them is gone. An interactive shell, nohup or a service manager above them is not
 * watched, so a server left running on purpose keeps running.
 *
 * Deno lets only `--allow-all` read /proc, so the `start` task runs with `-A`: each launcher's
 * `/proc/<pid>/stat` is opened once at start (an open handle stays bound to that process, and
 * reading it fails once the process is gone, so a reused pid cannot fool it), then
 * {@link revokeUnneeded} gives up what the server never uses (subprocesses, FFI). Linux only;
 * without `-A`, or without `deno task`, nothing is watched.
 */

/** One watched launcher: its pid, command line and the open handle on its stat file. */
interface Launcher {
  pid: number;
  command: string;
  stat: Deno.FsFile;
}

const buffer = new Uint8Array(4096);

/** State (R, S, …, Z: exited, not reaped) and parent of the process `stat` was opened for. */
function readStat(stat: Deno.FsFile): { state: string; ppid: number } | null {
  try {
    stat.seekSync(0, Deno.SeekMode.Start);
    const n = stat.readSync(buffer) ?? 0;
    const text = new TextDecoder().decode(buffer.subarray(0, n));
    // The command name (field 2) is in parentheses and may hold spaces: split after it.
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return { state: fields[0], ppid: Number(fields[1]) };
  } catch {
    return null; // ESRCH: the process is gone
  }
}

/** Whether a command line launches a deno task (`deno task …`, `npm exec deno@… task …`). */
export function launchesDenoTask(command: string): boolean {
  return /(^|[\s/'"])deno(@[\w.-]+)?['"]?\s+task(\s|$)/.test(command);
}

/** The launchers to watch, nearest first; [] when /proc cannot be read (no `-A`). */
function openLaunchers(): Launcher[] {
  const found: Launcher[] = [];
  let pid = Deno.ppid;
  try {
    while (pid > 1 && found.length < 5) {
      const command = Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0").join(" ").trim();
      if (!launchesDenoTask(command)) break;
      const stat = Deno.openSync(`/proc/${pid}/stat`);
      const info = readStat(stat);
      if (!info) {
        stat.close();
        break;
      }
      found.push({ pid, command, stat });
      pid = info.ppid;
    }
  } catch {
    // NotCapable (no -A) or a process gone mid-way: watch what was found
  }
  return found;
}

/**
 * Calls `onGone` once when a watched launcher exits; returns a function that stops watching.
 * Checks every `intervalMs` (a timer that does not keep the process alive).
 */
export function watchLaunchers(onGone: (why: string) => void, intervalMs = 1_000): () => void {
  const watched = Deno.build.os === "linux" ? openLaunchers() : [];
  if (watched.length === 0) return () => {};
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    clearInterval(timer);
    for (const launcher of watched) launcher.stat.close();
  };
  const timer = setInterval(() => {
    for (const { pid, command, stat } of watched) {
      const now = readStat(stat);
      if (now && now.state !== "Z") continue;
      stop();
      onGone(`launcher ${pid} (${command}) exited`);
      return;
    }
  }, intervalMs);
  Deno.unrefTimer(timer);
  return stop;
}

/** Gives up permissions the server never uses (granted by the start task's `-A`). */
export function revokeUnneeded(): void {
  for (const name of ["run", "ffi"] as const) {
    if (Deno.permissions.querySync({ name }).state === "granted") {
      Deno.permissions.revokeSync({ name });
    }
  }
}
