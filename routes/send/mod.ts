/**
 * `POST /api/v1/messages`: the REST API send endpoint (docs/api.md). The body is an inject v1 document
 * (core/inbound/api.ts); the answer is 202 `{id, recipients}` only once core/accept made the
 * message durable. Only an API key authenticates it (`Authorization: Bearer fmk_…`, from
 * `fastmta apikey add`): neither a console session nor an `admin.api_tokens` token can send, so
 * a browser holding a console cookie cannot be made to send mail (no CSRF surface).
 */
import { type Context, Hono } from "hono";
import type { ErrorBody, SentBody } from "../../core/api/schemas.ts";
import { authenticateApiKey } from "../../core/auth/api_keys.ts";
import { apiMessage } from "../../core/inbound/api.ts";
import { maxInjectDocumentBytes } from "../../core/inbound/inject_format.ts";
import { log } from "../../core/log.ts";
import { releaseBytes } from "../../core/bytes.ts";
import type { AdminContext, AdminEnv, ApiKeyCheck } from "../_context.ts";
import { mailboxKey } from "../../core/mail/mod.ts";

/** What sending takes: API keys to check, the config's limits, the door to core/accept. */
export type SendContext = { store: ApiKeyCheck } & Pick<AdminContext, "config" | "accept">;

/** Seconds a client is asked to wait after a 503. */
const RETRY_AFTER_SECONDS = "5";

function unauthorized(c: Context<AdminEnv>, error: string, invalidToken: boolean) {
  c.header(
    "WWW-Authenticate",
    invalidToken ? 'Bearer realm="fastmta", error="invalid_token"' : 'Bearer realm="fastmta"',
  );
  return c.json({ error } satisfies ErrorBody, 401);
}

function unavailable(c: Context<AdminEnv>, error: string) {
  c.header("Retry-After", RETRY_AFTER_SECONDS);
  return c.json({ error } satisfies ErrorBody, 503);
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

/** Send API route: `POST /` under `/api/v1/messages`, ahead of the API access check. */
export function sendApi(ctx: SendContext): Hono<AdminEnv> {
  const api = new Hono<AdminEnv>();
  api.post("/", async (c) => {
    const token = (c.req.header("authorization") ?? "").match(/^Bearer\s+(\S+)\s*$/i)?.[1];
    if (!token) {
      return unauthorized(c, "Authentication required: send an API key as a bearer token", false);
    }
    let key;
    try {
      key = await authenticateApiKey(ctx.store, token);
    } catch (error) {
      log("api", `cannot check an API key: ${(error as Error).message}`);
      return unavailable(c, "Cannot check the API key now: the database is unavailable");
    }
    if (!key) return unauthorized(c, "Unknown API key", true);
    if (!ctx.accept) return unavailable(c, "Sending is not available on this server");

    const limit = maxInjectDocumentBytes(ctx.config.smtp.max_message_size);
    const body = await readBodyWithin(c.req.raw, limit);
    if (body === null) {
      const error = `Request body too large: more than ${limit} bytes`;
      return c.json({ error } satisfies ErrorBody, 413);
    }
    const result = apiMessage(body, { keyName: key.name, clientIp: peerIp(c) }, {
      config: ctx.config,
    });
    if (result.kind !== "message") {
      const status = result.kind === "invalid" ? 400 : 413;
      return c.json({ error: result.reason } satisfies ErrorBody, status);
    }

    const { message } = result;
    try {
      const id = await ctx.accept.submit(message);
      const sent: SentBody = { id, recipients: new Set(message.recipients.map(mailboxKey)).size };
      return c.json(sent, 202);
    } catch (error) {
      log("api", `cannot accept message ${message.id}: ${(error as Error).message}`);
      return unavailable(c, "Cannot queue the message now: the queue is unavailable; try again");
    } finally {
      // Committed (the store has its own copy) or refused: either way these bytes are done.
      releaseBytes(message.body);
    }
  });
  return api;
}
