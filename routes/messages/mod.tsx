/**
 * Messages. Pages: the list `GET /messages` (`?before=ID` pages back), one message
 * `GET /messages/:id` with its units, and its release / cancel buttons (`POST
 * /messages/:id/release|cancel`). API: `GET /api/v1/messages` (newest first, `?limit=&cursor=`;
 * a search with the queue filter's query parameters, core/manage/message_search.ts),
 * `GET /api/v1/messages/:id` (with its units: state, handling failures, quarantine reason),
 * `POST /api/v1/messages/:id/release` (quarantined units due again) and
 * `DELETE /api/v1/messages/:id` (cancel what is left of it). See docs/quarantine.md.
 * `GET /api/v1/messages/:id/reports`: the bounce and complaint reports matched to it (the page
 * shows them too; docs/bounces.md).
 */
import { Hono } from "hono";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { QueueFilterSchema } from "../../core/api/queue_ops.ts";
import {
  type BounceReportListBody,
  BounceReportListSchema,
  CancelSchema,
  IdParams,
  MessageDetailSchema,
  MessageListSchema,
  ReleaseSchema,
} from "../../core/api/schemas.ts";
import { log } from "../../core/log.ts";
import { messageDetailDocument } from "../../core/manage/api_documents.ts";
import { messageDetails } from "../../core/manage/message_details.ts";
import { MESSAGE_SEARCH_ROLES, searchMessages } from "../../core/manage/message_search.ts";
import { NotFoundError } from "../../core/manage/types.ts";
import { cancelMessage, messageDetail, releaseMessage } from "../../core/queue/quarantine.ts";
import { z } from "@hono/zod-openapi";
import { apiRoute, apiRouter, jsonResponse, OPERATORS, problemResponse, READERS } from "../_api.ts";
import type { AdminContext, AdminEnv, MessageStore } from "../_context.ts";
import { ApiProblem } from "../_problem.ts";
import { sendPage } from "../_page.tsx";
import { MessagePage, MessagesPage } from "./view.tsx";

/** What the message routes take. */
export type MessagesContext =
  & { store: MessageStore }
  & Pick<AdminContext, "queue" | "queueOps" | "config" | "management">;

/** Messages per page of the list. */
const PAGE_SIZE = 50;

const consoleLog = (line: string) => log("console", line);
const apiLog = (line: string) => log("api", line);
const NO_RELEASE = "Releasing is not served here";

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

/**
 * Headers, DKIM and rules of a message, where the store can read its body: undefined where it
 * cannot, null when the body is gone (the spool freed it, database.body_spool_keep).
 */
function detailsOf(ctx: MessagesContext, id: string, domains: string[]) {
  const { readBodyHead, dkimKeys } = ctx.store;
  if (!readBodyHead) return Promise.resolve(undefined);
  const shaping = ctx.management?.objects.shaping_rule;
  return messageDetails(
    {
      config: ctx.config,
      store: {
        readBodyHead: readBodyHead.bind(ctx.store),
        dkimKeys: dkimKeys?.bind(ctx.store),
      },
      shapingRules: shaping
        ? async () => (await shaping.list({ limit: 1000 })).items.map((o) => o.body)
        : undefined,
    },
    id,
    [...new Set(domains)],
  );
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
    const units = ctx.queueOps
      ? (await ctx.queueOps.search(c.var.actor!, { id: message.id }, { limit: 1000 })).items
      : undefined;
    const details = await detailsOf(ctx, message.id, units?.map((u) => u.domain) ?? []);
    return sendPage(
      c,
      <MessagePage message={message} reports={reports.reports} units={units} details={details} />,
    );
  });
  app.post("/messages/:id/release", async (c) => {
    const id = c.req.param("id");
    if (!ctx.queue) return c.text(NO_RELEASE, 503);
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

/** The list's query: the queue filter's fields (all optional) and the page. */
const MessageSearchQuery = QueueFilterSchema.extend({
  cursor: z.string().min(1).optional().meta({ description: "next_cursor of the page before" }),
  limit: z.coerce.number().int().min(1).max(500).default(50)
    .meta({ description: "How many, 1 to 500" }),
});

const listRoute = apiRoute({
  method: "get",
  path: "/messages",
  summary:
    "Search messages by id, sender, recipient, domain, pool, vmta, tag, state, age and reply " +
    "(any unit of the message matches); no filter: the newest. Newest first, a page at a " +
    "time; a sender key sees only what it sent",
  tags: ["messages"],
  roles: MESSAGE_SEARCH_ROLES,
  request: { query: MessageSearchQuery },
  responses: { 200: jsonResponse(MessageListSchema, "A page of messages, newest first") },
});

const detailRoute = apiRoute({
  method: "get",
  path: "/messages/{id}",
  summary: "One message: recipients, attempts, units (a sender key: only what it sent)",
  tags: ["messages"],
  roles: [...READERS, "sender"],
  request: { params: IdParams },
  responses: { 200: jsonResponse(MessageDetailSchema, "The message's status") },
});

const reportsRoute = apiRoute({
  method: "get",
  path: "/messages/{id}/reports",
  summary: "The bounce and complaint reports kept for a message, newest first",
  tags: ["messages"],
  roles: READERS,
  request: { params: IdParams },
  responses: { 200: jsonResponse(BounceReportListSchema, "The reports matched to the message") },
});

const releaseRoute = apiRoute({
  method: "post",
  path: "/messages/{id}/release",
  summary: "Make a message's quarantined units and DSNs due again",
  tags: ["messages"],
  roles: OPERATORS,
  request: { params: IdParams },
  responses: {
    200: jsonResponse(ReleaseSchema, "How many units and DSNs were released"),
    503: problemResponse("Releasing is not served here"),
  },
});

const cancelRoute = apiRoute({
  method: "delete",
  path: "/messages/{id}",
  summary: "Cancel what is left of a message (open recipients fail, no DSN)",
  tags: ["messages"],
  roles: OPERATORS,
  request: { params: IdParams },
  responses: { 200: jsonResponse(CancelSchema, "How many units and recipients were cancelled") },
});

/** Message API. */
export function messageApi(ctx: MessagesContext): OpenAPIHono<AdminEnv> {
  const app = apiRouter();
  app.openapi(listRoute, async (c) => {
    const { limit, cursor, ...filter } = c.req.valid("query");
    const page = await searchMessages(ctx, c.var.actor!, filter, { cursor, limit });
    return c.json(page, 200);
  });
  app.openapi(detailRoute, async (c) => {
    const { id } = c.req.valid("param");
    const detail = await messageDetail(ctx.store, id);
    const actor = c.var.actor!;
    // A sender reads only what its own key sent; another's message is as if it did not exist.
    if (!detail || (actor.role === "sender" && detail.apiKey !== actor.api_key_id)) {
      throw new NotFoundError("message", id);
    }
    return c.json(messageDetailDocument(detail), 200);
  });
  app.openapi(reportsRoute, async (c) => {
    const { id } = c.req.valid("param");
    if (!(await ctx.store.messageStatus(id))) throw new NotFoundError("message", id);
    return c.json(await reportsOf(ctx, id), 200);
  });
  app.openapi(releaseRoute, async (c) => {
    const { id } = c.req.valid("param");
    if (!ctx.queue) throw new ApiProblem(503, "Releasing is not served here");
    const body = await releaseMessage(ctx.queue, ctx.store, id, apiLog);
    if (!body) throw new NotFoundError("message", id);
    return c.json(body, 200);
  });
  app.openapi(cancelRoute, async (c) => {
    const { id } = c.req.valid("param");
    if (ctx.queueOps) {
      // Through the queue service: a delivery-log row per recipient, and audited.
      const done = await ctx.queueOps.act(c.var.actor!, id, "cancel");
      return c.json({ units: done.units, recipients: done.recipients ?? 0 }, 200);
    }
    const body = await cancelMessage(ctx.store, id, apiLog);
    if (!body) throw new NotFoundError("message", id);
    return c.json(body, 200);
  });
  return app;
}
