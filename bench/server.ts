/** The interface the scenarios drive: an MTA under test (fastmta or Postfix). */

/** An MTA under test, started fresh for every run. */
export interface Server {
  /** System name in reports ("fastmta", "postfix"). */
  readonly name: string;
  /** SMTP listener, host:port. */
  readonly addr: string;
  /** Version string for the report. */
  readonly version: string;
  /** Starts with empty state (fresh dir / empty queue) and waits until it greets. */
  start(runDir: string): Promise<void>;
  /** Root of the process tree whose CPU and memory are measured. */
  rootPid(): number;
  /** Whether the server process is still alive. */
  alive(): boolean;
  /** Called right after the sink comes back up in the queue-drain scenario. */
  afterSinkUp(): Promise<void>;
  /** Realistic scenario: retry deferred mail now (Postfix: `postqueue -f`); absent = on its own. */
  retryNow?(): Promise<void>;
  /** Counters of the components outside the process tree (database, broker), absolute values. */
  componentStats?(): Promise<Record<string, number>>;
  /** Stops the server (bounded; idempotent). */
  stop(): Promise<void>;
  /** Where to look when something went wrong. */
  logHint(): string;
}
