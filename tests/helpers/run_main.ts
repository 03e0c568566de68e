/**
 * Runs `main.ts`'s `main(args)` in the test's own process with console output captured: the
 * parser and the commands' start-up checks, without a subprocess per case.
 */
import { main } from "../../main.ts";

/** Exit code and captured console output of one command line. */
export interface MainResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs one command line in this process (console.log/error captured, then restored). */
export async function runMain(args: string[]): Promise<MainResult> {
  const out: string[] = [];
  const err: string[] = [];
  const { log, error } = console;
  console.log = (...parts: unknown[]) => out.push(parts.join(" "));
  console.error = (...parts: unknown[]) => err.push(parts.join(" "));
  try {
    const code = await main(args);
    return { code, stdout: out.join("\n"), stderr: err.join("\n") };
  } finally {
    console.log = log;
    console.error = error;
  }
}
