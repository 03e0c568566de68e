/**
 * `POST /api/v1/messages`: the REST API send endpoint (docs/api.md). The body is an inject v1 document
 * (core/inbound/api.ts); the answer is 202 `{id, recipients}` only once core/accept made the
 * message durable. Only an API key (`fastmta apikey add`) of role sender or admin sends: neither
 * a console session nor an `admin.api_tokens` token can, so a browser holding a console cookie
 * cannot be made to send mail. The key's name is kept in the message's meta, so a sender key
 * reads back only its own messages.
 */
import type { Context } from "hono";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { SentSchema } from "../../core/api/schemas.ts";
import { apiMessage } from "../../core/inbound/api.ts";
import { maxInjectDocumentBytes } from "../../core/inbound/inject_format.ts";
import { log } from "../../core/log.ts";
import { releaseBytes } from "../../core/bytes.ts";
import { apiRoute, apiRouter, jsonResponse, problemResponse } from "../_api.ts";
import type { AdminContext, AdminEnv } from "../_context.ts";
import { ApiProblem } from "../_problem.ts";
import { mailboxKey } from "../../core/mail/mod.ts";

/** What sending takes: the config's limits and the door to core/accept. */
export type SendContext = Pick<AdminContext, "config" | "accept">;

/** Seconds a client is asked to wait after a 503. */
const RETRY_AFTER_SECONDS = "5";

function unavailable(detail: string): ApiProblem {
  return new ApiProblem(503, detail, [], { "Retry-After": RETRY_AFTER_SECONDS });
}

/** The peer's address from Deno.serve's connection info (absent in `app.request()` tests). */
function peerIp(c: Context<AdminEnv>): string | null {
  const info = c.env as Deno.ServeHandlerInfo | undefined;
  const address = info?.remoteAddr;
  if (!address || !("hostname" in address)) return null;
  return address.hostname.replace(/^::ffff:/, "");
}

/**
 * The request body, or null when it is larger than `limit` bytes: by its Content-Length before
 * reading anything, else by the bytes read, stopping at the first chunk past the limit. One
 * buffer, sized by Content-Length or grown by doubling up to the limit.
 */
async function readBodyWithin(request: Request, limit: number): Promise<Uint8Array | null> {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > limit) return null;
  if (!request.body) return new Uint8Array(0);
  let buffer = new Uint8Array(declared !== null ? Number(declared) : Math.min(limit, 65_536));
  let size = 0;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (size + value.byteLength > limit) {
      await reader.cancel().catch(() => {});
      return null;
    }
    if (size + value.byteLength > buffer.byteLength) {
      const grown = new Uint8Array(Math.min(limit, Math.max(size + value.byteLength, size * 2)));
      grown.set(buffer.subarray(0, size));
      buffer = grown;
    }
    buffer.set(value, size);
    size += value.byteLength;
  }
  return buffer.subarray(0, size);
}

const sendRoute = apiRoute({
  method: "post",
  path: "/messages",
  summary: "Send a message: 202 once it is durable",
  description: "The body is an inject v1 document (docs/api.md), checked by the same code as " +
    "every other channel; an API key with role sender or admin sends (no session or token).",
  tags: ["messages"],
  roles: ["admin", "sender"],
  apiKeysOnly: true,
  request: {
    body: {
      required: true,
      content: {
        "application/json": {
          schema: { type: "object", description: "An inject v1 document (docs/inbound.md)" },
        },
      },
    },
  },
  responses: {
    202: jsonResponse(SentSchema, "Accepted: the message is durable"),
    413: problemResponse("The document or the message is too large"),
    503: problemResponse("The queue or the key store is unavailable: try again"),
  },
});

/** Send API route: `POST /api/v1/messages`. */
export function sendApi(ctx: SendContext): OpenAPIHono<AdminEnv> {
  const api = apiRouter();
  api.openapi(sendRoute, async (c) => {
    const actor = c.var.actor!;
    if (!ctx.accept) throw unavailable("Sending is not available on this server");

    const limit = maxInjectDocumentBytes(ctx.config.smtp.max_message_size);
    const body = await readBodyWithin(c.req.raw, limit);
    if (body === null) {
      throw new ApiProblem(413, `Request body too large: more than ${limit} bytes`);
    }
    // The key's name goes into the message's meta: a sender key reads back only its own.
    const keyName = actor.api_key_id!;
    const result = apiMessage(body, { keyName, clientIp: peerIp(c) }, { config: ctx.config });
    if (result.kind !== "message") {
      if (result.kind === "invalid") throw new ApiProblem(400, result.reason);
      throw new ApiProblem(413, result.reason);
    }

    const { message } = result;
    try {
      const id = await ctx.accept.submit(message);
      return c.json({ id, recipients: new Set(message.recipients.map(mailboxKey)).size }, 202);
    } catch (error) {
      log("api", `cannot accept message ${message.id}: ${(error as Error).message}`);
      throw unavailable("Cannot queue the message now: the queue is unavailable; try again");
    } finally {
      // Committed (the store has its own copy) or refused: either way these bytes are done.
      releaseBytes(message.body);
    }
  });
  return api;
}
