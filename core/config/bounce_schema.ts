/**
 * The `bounce` section: DSNs and suppression (docs/bounces.md), and the asynchronous side of
 * issue 17: VERP return paths, the bounce/feedback domains this server takes mail for itself,
 * one-click unsubscribe and "delayed" DSNs. The issue-17 keys are live: every stage reads them
 * from its `Config` at the moment of use, so a managed object can feed them later.
 */
import { z } from "zod";
import { duration } from "./delivery_schema.ts";

const DAY = 24 * 3_600_000;

const domainName = z.string().min(1).max(253)
  .regex(/^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$/i, {
    message: "must be a domain name such as bounces.example.com",
  })
  .transform((d) => d.toLowerCase());

const verp = z.object({
  enabled: z.boolean().default(false).meta({
    description: "Rewrite the envelope sender to a VERP address " +
      "(`<prefix>+<token>@<domain>`) whose HMAC token names the message and recipient; " +
      "then each recipient gets its own SMTP transaction.",
    live: true,
  }),
  domain: domainName.optional().meta({
    description: "The bounce domain of VERP addresses (required when `enabled`); this server " +
      "accepts mail for it from anyone and never relays it.",
    live: true,
  }),
  prefix: z.string().regex(/^[a-z0-9]{1,8}$/i, { message: "must be 1-8 letters or digits" })
    .default("b").meta({ description: "Local-part prefix of VERP addresses.", live: true }),
  sender_domains: z.array(domainName).default([]).meta({
    description: "Only messages from these sending domains get VERP (with `pools`: either " +
      "matches); both empty: every message.",
    live: true,
  }),
  pools: z.array(z.string().min(1)).default([]).meta({
    description: "Only messages sent through these pools get VERP (see `sender_domains`).",
    live: true,
  }),
}).strict().prefault({}).meta({ description: "VERP return paths (docs/bounces.md)." });

const unsubscribe = z.object({
  enabled: z.boolean().default(false).meta({
    description: "Add `List-Unsubscribe` and `List-Unsubscribe-Post` (RFC 8058 one-click) " +
      "with a signed URL to outgoing messages that have none.",
    live: true,
  }),
  base_url: z.url({ protocol: /^https?$/ }).optional().meta({
    description: "Public URL of the admin/API HTTP server the links point at (required when " +
      "`enabled`), e.g. `https://mta.example.com`; `/unsubscribe/<token>` is appended.",
    live: true,
  }),
}).strict().prefault({}).meta({ description: "One-click unsubscribe (RFC 8058)." });

/** The `bounce` section of the configuration. */
export const bounceSection = z.object({
  dsn: z.boolean().default(true).meta({
    description: "Send delivery status notifications (RFC 3464) for failed recipients.",
    live: false,
  }),
  suppression_time: duration.default(30 * DAY).meta({
    description: "How long a hard-bounced address (bad mailbox) is suppressed; 0 records none.",
    live: false,
  }),
  return_max_size: z.number().int().min(0).default(1_048_576).meta({
    description: "Largest original message returned whole in a DSN (bytes); bigger ones " +
      "return headers only.",
    live: false,
  }),
  domains: z.array(domainName).default([]).meta({
    description: "Bounce and feedback (complaint) domains: mail to them is taken from anyone " +
      "and handed to the bounce processor, never queued or relayed (the VERP domain is " +
      "always one).",
    live: true,
  }),
  report_retention: duration.default(30 * DAY).meta({
    description: "How long received bounce and complaint reports are kept (and shown on the " +
      "message's page).",
    live: true,
  }),
  token_max_age: duration.default(60 * DAY).meta({
    description: "Reports whose VERP token names a message older than this are refused " +
      "(replays).",
    live: true,
  }),
  complaint_time: duration.default(3_650 * DAY).meta({
    description: "How long a complaint or unsubscribe suppresses the address for its sending " +
      "domain.",
    live: true,
  }),
  verp,
  unsubscribe,
  delay_notice_after: duration.default(4 * 3_600_000).meta({
    description: 'Send one "delayed" DSN (RFC 3464) when a recipient is still deferred this ' +
      "long after arrival; 0 never.",
    live: true,
  }),
  delay_notice: z.enum(["requested", "always"]).default("requested").meta({
    description: "`requested`: only to senders who asked (NOTIFY=DELAY); `always`: also when " +
      "NOTIFY was not given (never to the null sender, never when NOTIFY excludes DELAY).",
    live: true,
  }),
}).strict().superRefine((b, ctx) => {
  if (b.verp.enabled && !b.verp.domain) {
    ctx.addIssue({
      code: "custom",
      path: ["verp", "domain"],
      message: "is required when bounce.verp.enabled is true",
    });
  }
  if (b.unsubscribe.enabled && !b.unsubscribe.base_url) {
    ctx.addIssue({
      code: "custom",
      path: ["unsubscribe", "base_url"],
      message: "is required when bounce.unsubscribe.enabled is true",
    });
  }
}).prefault({}).meta({ description: "Bounces, DSNs and suppression (docs/bounces.md)." });

export { bounceDomains } from "./bounce_domains.ts";
