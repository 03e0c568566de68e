/**
 * The command registry: every `fastmta` command, in the order `fastmta --help` and docs/cli.md
 * list them. Each command module exports its own entry (name, summary, usage, options, actions,
 * how it uses the database, run); main.ts only parses against this list and dispatches.
 */
import type { Command } from "./_command.ts";
import { adminCommand } from "./admin.ts";
import { apikeyCommand } from "./apikey.ts";
import { auditCommand } from "./audit.ts";
import {
  bouncePolicyCommand,
  bounceRuleCommand,
  listenerCommand,
  poolCommand,
  routeCommand,
  vmtaCommand,
} from "./config_objects.ts";
import { configCommandSpec } from "./config.ts";
import { dkimCommand } from "./dkim.ts";
import { domainCommand } from "./domain.ts";
import { migrateCommand } from "./migrate.ts";
import { nodesCommand } from "./nodes.ts";
import { pauseCommand } from "./pause.ts";
import { queueCommand } from "./queue.ts";
import { sendCommand } from "./send.ts";
import { sendmailCommand } from "./sendmail.ts";
import { serveCommand } from "./serve.ts";
import { shapingCommand } from "./shaping.ts";
import { suppressionCommand } from "./suppression.ts";
import { tlsCertCommand } from "./tls_cert.ts";
import { webhookCommand } from "./webhook.ts";
import { userCommand } from "./user.ts";

export type { Command } from "./_command.ts";

/** Every command, in display order. */
export const COMMANDS: readonly Command[] = [
  serveCommand,
  sendCommand,
  sendmailCommand,
  migrateCommand,
  queueCommand,
  pauseCommand,
  nodesCommand,
  configCommandSpec,
  vmtaCommand,
  poolCommand,
  listenerCommand,
  routeCommand,
  bounceRuleCommand,
  bouncePolicyCommand,
  tlsCertCommand,
  auditCommand,
  userCommand,
  apikeyCommand,
  shapingCommand,
  domainCommand,
  dkimCommand,
  suppressionCommand,
  webhookCommand,
  adminCommand,
];
