/** Shared by the parser and the commands. */

/**
 * Bad arguments: main.ts prints the message (and where to find the usage) and exits with 2.
 * `command` names the command whose usage to point at; without it, the command list.
 */
export class UsageError extends Error {
  override name = "UsageError";
  readonly command?: string;

  constructor(message: string, command?: { name: string } | string) {
    super(message);
    this.command = typeof command === "string" ? command : command?.name;
  }
}
