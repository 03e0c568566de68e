/**
 * Keeps an SMTP worker alive through a race in Deno's `node:tls` (2.9.6): when a client sends
 * STARTTLS and drops the connection before the upgrade's first read, `initRead` in
 * `ext:deno_node/_tls_wrap.js` runs on a socket whose handle is already gone and throws
 * `TypeError: Cannot read properties of null (reading 'receive')` from a process tick, outside any
 * code of ours or smtp-server's. Uncaught, it terminated the worker and with it every session
 * on it (found by tests/fuzz/smtp_fuzz.e2e_test.ts, FASTMTA_FUZZ_SEED=316258900). The
 * connection it concerns is already closed, so nothing is lost by going on: that exact error is
 * logged and swallowed; every other uncaught error still ends the worker as before.
 *
 * @module
 */

/** True for the runtime's STARTTLS-upgrade race and nothing else. */
export function isTlsUpgradeRace(error: unknown): boolean {
  if (!(error instanceof TypeError)) return false;
  const stack = error.stack ?? "";
  return error.message.includes("reading 'receive'") && stack.includes("_tls_wrap.js") &&
    stack.includes("initRead");
}

/** Installs the guard on this worker's global scope. */
export function guardTlsUpgradeRace(log: (line: string) => void): void {
  globalThis.addEventListener("error", (event) => {
    if (!isTlsUpgradeRace(event.error)) return;
    event.preventDefault();
    log("smtp: a client closed its connection during the STARTTLS upgrade (runtime race ignored)");
  });
}
