/** Shared by subcommands that take positional arguments. */

/** Bad arguments: main.ts prints the message with the command's usage and exits with 2. */
export class UsageError extends Error {
  override name = "UsageError";
}
