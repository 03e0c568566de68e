/** One-line logs on stderr: time, component, message. */

/** Writes a log line. */
export function log(component: string, message: string): void {
  console.error(`${new Date().toISOString()} ${component}: ${message}`);
}
