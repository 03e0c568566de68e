/**
 * Messages. Pages: the list `GET /messages` (`?before=ID` pages back), one message
 * `GET /messages/:id` with its units, and its release / cancel buttons (`POST
 * /messages/:id/release|cancel`). API: `GET /api/v1/messages` (newest first, `?limit=&before=`),
 * `GET /api/v1/messages/:id` (with its units: state, handling failures, quarantine reason),
 * `POST /api/v1/messages/:id/release` (quarantined units due again) and
 * `DELETE /api/v1/messages/:id` (cancel what is left of it). See docs/quarantine.md.
 * `GET /api/v1/messages/:id/reports`: the bounce and complaint reports matched to it (the page
 * shows them too; docs/bounces.md).
 */
import { Hono } from "hono";
import type {
  BounceReportListBody,
  CancelBody,
  ErrorBody,
  MessageDetailBody,
  MessageListBody,
  ReleaseBody,
} from "../../core/api/schemas.ts";
import { MessageListQuery } from "../../core/api/schemas.ts";
import { log } from "../../core/log.ts";
import { cancelMessage, messageDetail, releaseMessage } from "../../core/queue/quarantine.ts";
import type { AdminContext, AdminEnv, MessageStore } from "../_context.ts";
import { sendPage } from "../_page.tsx";
import { MessagePage, MessagesPage } from "./view.tsx";

/** What the message routes take. */
export type MessagesContext = { store: MessageStore } & Pick<AdminContext, "queue">;

/** Messages per page of the list. */
const PAGE_SIZE = 50;

const consoleLog = (line: string) => log("console", line);
const apiLog = (line: string) => log("api", line);
const NOT_FOUND: ErrorBody = { error: "Message not found" };
const NO_RELEASE: ErrorBody = { error: "Releasing is not served here" };

/** The bounce and complaint reports kept for a message (issue 17), newest first. */
async function reportsOf(ctx: MessagesContext, id: string): Promise<BounceReportListBody> {
  const reports = await ctx.store.bounceReportsFor?.(id) ?? [];
  return {
    reports: reports.map((r) => ({
      id: r.id,
      received_at: r.receivedAt,
      state: r.state,
      kind: r.kind,
      recipient: r.recipient,
      category: r.category,
      status: r.status,
      detail: r.detail,
      client_ip: r.clientIp,
    })),
  };
}

/** Message pages (behind the page session check, CSRF included). */
export function messagePages(ctx: MessagesContext): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  app.get("/messages", async (c) => {
    const messages = await ctx.store.listMessages({
      limit: PAGE_SIZE,
      before: c.req.query("before") || undefined,
    });
    return sendPage(c, <MessagesPage messages={messages} limit={PAGE_SIZE} />);
  });
  app.get("/messages/:id", async (c) => {
    const message = await messageDetail(ctx.store, c.req.param("id"));
    if (!message) return c.notFound();
    const reports = await reportsOf(ctx, message.id);
    return sendPage(c, <MessagePage message={message} reports={reports.reports} />);
  });
  app.post("/messages/:id/release", async (c) => {
    const id = c.req.param("id");
    if (!ctx.queue) return c.text(NO_RELEASE.error, 503);
    const result = await releaseMessage(ctx.queue, ctx.store, id, consoleLog);
    return result ? c.redirect(`/messages/${id}`) : c.notFound();
  });
  app.post("/messages/:id/cancel", async (c) => {
    const id = c.req.param("id");
    const result = await cancelMessage(ctx.store, id, consoleLog);
    return result ? c.redirect(`/messages/${id}`) : c.notFound();
  });
  return app;
}

/** Message API (behind the API access check). */
export function messageApi(ctx: MessagesContext): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  app.get("/messages", async (c) => {
    const body: MessageListBody = await ctx.store.listMessages(
      MessageListQuery.parse(c.req.query()),
    );
    return c.json(body);
  });
  app.get("/messages/:id", async (c) => {
    const body: MessageDetailBody | null = await messageDetail(ctx.store, c.req.param("id"));
    return body ? c.json(body) : c.json(NOT_FOUND, 404);
  });
  app.get("/messages/:id/reports", async (c) => {
    const id = c.req.param("id");
    if (!(await ctx.store.messageStatus(id))) return c.json(NOT_FOUND, 404);
    return c.json(await reportsOf(ctx, id));
  });
  app.post("/messages/:id/release", async (c) => {
    if (!ctx.queue) return c.json(NO_RELEASE, 503);
    const body: ReleaseBody | null = await releaseMessage(
      ctx.queue,
      ctx.store,
      c.req.param("id"),
      apiLog,
    );
    return body ? c.json(body) : c.json(NOT_FOUND, 404);
  });
  app.delete("/messages/:id", async (c) => {
    const body: CancelBody | null = await cancelMessage(ctx.store, c.req.param("id"), apiLog);
    return body ? c.json(body) : c.json(NOT_FOUND, 404);
  });
  return app;
}
