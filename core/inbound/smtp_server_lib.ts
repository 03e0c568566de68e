/**
 * npm `smtp-server` with our connection patch, for `smtp.engine: smtp-server` only. Loaded by
 * `import()` from core/inbound/smtp.ts, so the default engine's SMTP isolates do not evaluate
 * the library (~2–3 MB of heap each: bench/RESULTS.md, 2026-12-04 "smtpmem").
 *
 * @module
 */
export { SMTPServer } from "smtp-server";
export { patchSmtpConnection } from "./connection_patch.ts";
