/**
 * DATA on the SMTP inbound channel: collects the message under the size and header-section
 * limits, prepends `Received:` (and `Message-ID:` when missing), records the envelope's DSN,
 * AUTH, 8BITMIME and SMTPUTF8 parameters and hands the message to `core/accept`. The 250 (with
 * the queue id) goes out only after accept says the message is durable.
 *
 * Reads config: smtp.hostname, smtp.add_message_id, intake.max_header_fields,
 * intake.max_header_line_length.
 */
import type { SMTPServerAddress, SMTPServerSession } from "smtp-server";
import { releaseBytes } from "../bytes.ts";
import type { Config } from "../config/mod.ts";
import { newQueueId } from "../accept/mod.ts";
import { encodeXtext, mailboxKey, receivedHeader } from "../mail/mod.ts";
import type { DataHandler } from "./engine/mod.ts";
import { MessageCollector, messageIdHeader } from "./message.ts";
import { headerLimitsOf } from "./header_limits.ts";
import { headerRefusal, smtpError } from "./smtp_replies.ts";
import {
  clientIp,
  isBounceTransaction,
  MINUTE,
  type SmtpContext,
  userRateKey,
} from "./smtp_session.ts";

/**
 * The transaction's recipients, each mailbox once (core/mail `mailboxKey`: the local part's case
 * counts, the domain's does not): in the order first given, with the parameters last given, as a
 * repeated RCPT replaces the earlier one.
 */
export function distinctRecipients(rcptTo: SMTPServerAddress[]): SMTPServerAddress[] {
  const byKey = new Map<string, SMTPServerAddress>();
  for (const r of rcptTo) {
    const key = mailboxKey(r.address);
    const earlier = byKey.get(key);
    byKey.set(key, earlier ? { ...r, address: earlier.address } : r);
  }
  return [...byKey.values()];
}

/**
 * DSN parameters (RFC 3461) of the transaction, in the shape the bounce stage reads.
 * smtp-server hands us decoded ENVID and ORCPT values; they are stored encoded again (xtext),
 * as the client sent them.
 */
function dsnMeta(
  session: SMTPServerSession,
  rcptTo: SMTPServerAddress[],
): Record<string, unknown> | null {
  const envelope = session.envelope;
  const rcpt: Record<string, { notify?: string[]; orcpt?: string }> = {};
  for (const r of rcptTo) {
    if (r.dsn?.notify || r.dsn?.orcpt) {
      rcpt[r.address] = {
        ...(r.dsn.notify ? { notify: r.dsn.notify } : {}),
        ...(r.dsn.orcpt ? { orcpt: encodeXtext(r.dsn.orcpt) } : {}),
      };
    }
  }
  const ret = envelope.dsn?.ret ?? null;
  const envid = envelope.dsn?.envid ? encodeXtext(envelope.dsn.envid) : null;
  if (!ret && !envid && Object.keys(rcpt).length === 0) return null;
  return { ret, envid, rcpt };
}

/**
 * The DATA handler: collect, check the limits, accept, answer. `wholeReads`: the parts are
 * views of whole socket reads (the own engine), which decides how they are freed.
 */
export function dataHandler(
  ctx: SmtpContext,
  config: Config,
  wholeReads: boolean,
): DataHandler {
  const { log } = ctx;
  return (stream, session, callback) => {
    const queueId = newQueueId();
    const headerLimits = headerLimitsOf(config);
    const collector = new MessageCollector(headerLimits);
    stream.on("data", (chunk: Uint8Array) => collector.push(chunk, stream.sizeExceeded));
    stream.on("error", () => collector.refuse("size"));
    stream.on("end", () => {
      if (stream.sizeExceeded || collector.refused === "size") {
        // smtp-server answers 552 itself (rejectOversized); the error keeps us honest.
        return callback(
          smtpError(552, "5.3.4 Error: message exceeds fixed maximum message size"),
        );
      }
      if (collector.refused === "header") {
        return callback(headerRefusal(collector.headerProblem ?? "size", headerLimits));
      }
      if (isBounceTransaction(ctx, session)) {
        return acceptReport(ctx, session, queueId, collector, wholeReads).then(
          (id) => callback(null, `2.0.0 Ok: report stored as ${id}`),
          (error) => {
            log(`smtp: cannot store bounce report: ${(error as Error).message}`);
            callback(smtpError(451, "4.3.0 Error: cannot store the report, try again later"));
          },
        );
      }
      acceptMessage(ctx, session, queueId, collector, wholeReads).then(
        (id) => callback(null, `2.0.0 Ok: queued as ${id}`),
        (error) => {
          log(`smtp: cannot accept message ${queueId}: ${(error as Error).message}`);
          callback(smtpError(451, "4.3.0 Error: queue file write error, try again later"));
        },
      );
    });
  };
}

/** Hands a report for a bounce/feedback domain to the processor (stored before the 250). */
async function acceptReport(
  ctx: SmtpContext,
  session: SMTPServerSession,
  queueId: string,
  collector: MessageCollector,
  wholeReads: boolean,
): Promise<string> {
  const recipients = session.envelope.rcptTo.map((r) => r.address);
  const prefix = receivedHeader({
    helo: session.hostNameAppearsAs || null,
    clientIp: clientIp(session),
    hostname: ctx.smtp.hostname,
    protocol: session.transmissionType || "SMTP",
    queueId,
    recipient: recipients.length === 1 ? recipients[0] : null,
    tls: null,
    date: new Date(),
  });
  const raw = collector.build(prefix);
  collector.releaseChunks(wholeReads);
  try {
    return await ctx.bounces!.receive({
      mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
      rcptTo: recipients,
      clientIp: clientIp(session),
      raw,
    });
  } finally {
    releaseBytes(raw);
  }
}

/** Builds the message (trace headers, meta) and submits it; resolves with its queue id. */
async function acceptMessage(
  ctx: SmtpContext,
  session: SMTPServerSession,
  queueId: string,
  collector: MessageCollector,
  wholeReads: boolean,
): Promise<string> {
  const { smtp, states, rates, acceptor } = ctx;
  const state = states.get(session);
  const rcptTo = distinctRecipients(session.envelope.rcptTo);
  const recipients = rcptTo.map((r) => r.address);
  const now = new Date();
  const tls = session.secure && session.tlsOptions
    ? { version: session.tlsOptions.version, cipher: session.tlsOptions.name }
    : null;
  let prefix = receivedHeader({
    helo: session.hostNameAppearsAs || null,
    clientIp: clientIp(session),
    hostname: smtp.hostname,
    protocol: session.transmissionType || "SMTP",
    queueId,
    recipient: recipients.length === 1 ? recipients[0] : null,
    tls,
    date: now,
  });
  if (smtp.add_message_id && !collector.hasMessageId()) {
    prefix += messageIdHeader(queueId, smtp.hostname);
  }
  const meta: Record<string, unknown> = {};
  const dsn = dsnMeta(session, rcptTo);
  if (dsn) meta.dsn = dsn;
  if (state?.user) meta.auth = state.user.name;
  if (session.envelope.bodyType === "8bitmime") meta.body = "8BITMIME";
  if (session.envelope.smtpUtf8) meta.smtputf8 = true;
  if (state) meta.listener = `${state.listener.mode}:${state.listener.port}`;
  const mailFrom = session.envelope.mailFrom;
  let id: string;
  try {
    id = await acceptor.submit({
      id: queueId,
      sender: mailFrom ? mailFrom.address : "",
      recipients,
      channel: "smtp",
      clientIp: clientIp(session),
      receivedAt: now.getTime(),
      // The socket's reads as they are: the spool writes them without a joined copy.
      body: collector.pieces(prefix),
      meta,
    });
  } finally {
    // Committed (the store has its own copy) or refused: either way these bytes are done.
    collector.releaseChunks(wholeReads);
  }
  if (state?.user) rates.hit(userRateKey(state.user.name), MINUTE);
  return id;
}
