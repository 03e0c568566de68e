/**
 * Queue pages over core/manage's queue operations (the same service as /api/v1/queue…):
 * `GET /messages?<filter>` searches by every field of the API's filter (the URL is the saved
 * search; without a filter the plain message list answers), `GET|POST /messages/bulk` previews
 * a bulk action's count and runs it as a job (`GET /messages/jobs/:id`: its progress),
 * `POST /messages/:id/act` retries, holds or releases a message, `GET /messages/:id/confirm`
 * asks before a bounce or cancel, and `GET /queue?by=domain|pool|vmta` lists open units by
 * destination domain, pool or vmta with pause and resume per row (`POST /queue/pauses`, `POST /queue/pauses/:id/remove`).
 */
import { Hono } from "hono";
import type { Context } from "hono";
import { QueueFilterSchema } from "../../core/api/queue_ops.ts";
import { log } from "../../core/log.ts";
import type { QueueService } from "../../core/manage/queue_service.ts";
import { NotFoundError, ValidationError } from "../../core/manage/types.ts";
import { queueView } from "../../core/manage/queue_views.ts";
import {
  QUEUE_GROUPINGS,
  type QueueGrouping,
  type QueueSummaryStore,
} from "../../core/store/mod.ts";
import type { AdminEnv } from "../_context.ts";
import { sendPage } from "../_page.tsx";
import { formFields, issuesByField } from "../config/fields.ts";
import { ConfirmPage } from "../config/view.tsx";
import { QueuePage } from "./queue_view.tsx";
import { BulkPreviewPage, JobPage, SearchPage } from "./view.tsx";

/** What the queue pages take. */
export type QueuePagesContext = {
  queueOps?: QueueService;
  store: QueueSummaryStore;
};

const FILTER_FIELDS = formFields(QueueFilterSchema);
const FILTER_KEYS = new Set(FILTER_FIELDS.map((f) => f.path));
const PAGE_SIZE = 50;

/** The filter fields of a query or form (empty ones left out). */
function filterOf(values: Record<string, unknown>): Record<string, string> {
  const filter: Record<string, string> = {};
  for (const [key, value] of Object.entries(values)) {
    if (FILTER_KEYS.has(key) && typeof value === "string" && value.trim() !== "") {
      filter[key] = value.trim();
    }
  }
  return filter;
}

/** The grouping a query asks for; the domain view unless it names another. */
function groupingOf(value: unknown): QueueGrouping {
  return QUEUE_GROUPINGS.find((g) => g === value) ?? "domain";
}

/** Back to the view a pause button was on. */
function queueUrl(by: unknown): string {
  const grouping = groupingOf(by);
  return grouping === "domain" ? "/queue" : `/queue?by=${grouping}`;
}

/** Queue pages (behind the page session check, CSRF included). */
export function queuePages(ctx: QueuePagesContext): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  const service = (c: Context<AdminEnv>) => {
    if (!ctx.queueOps) throw new NotFoundError("page", c.req.path);
    return ctx.queueOps;
  };

  app.get("/messages", async (c, next) => {
    const filter = filterOf(c.req.query());
    if (Object.keys(filter).length === 0 || !ctx.queueOps) return await next();
    const query = new URLSearchParams(filter).toString();
    try {
      const page = await ctx.queueOps.search(c.var.actor!, filter, {
        cursor: c.req.query("cursor"),
        limit: PAGE_SIZE,
      });
      return sendPage(
        c,
        <SearchPage
          fields={FILTER_FIELDS}
          values={filter}
          errors={new Map()}
          units={page.items}
          nextCursor={page.next_cursor}
          query={query}
        />,
      );
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      const issues = error.issues.map((i) => ({ ...i, path: i.path.replace(/^filter\.?/, "") }));
      return sendPage(
        c,
        <SearchPage
          fields={FILTER_FIELDS}
          values={filter}
          errors={issuesByField(FILTER_FIELDS, issues)}
          units={[]}
          query={query}
        />,
        400,
      );
    }
  });

  app.get("/messages/bulk", async (c) => {
    const filter = filterOf(c.req.query());
    const action = c.req.query("action") ?? "";
    const { total } = await service(c).bulk(c.var.actor!, { action, filter, dry_run: true });
    return sendPage(c, <BulkPreviewPage action={action} count={total} filter={filter} />);
  });

  app.post("/messages/bulk", async (c) => {
    const form = await c.req.parseBody();
    const actor = c.var.actor!;
    const ops = service(c);
    const { job } = await ops.bulk(actor, { action: form["_action"], filter: filterOf(form) });
    if (!job) throw new ValidationError([{ path: "action", message: "Nothing to run" }]);
    ops.runJob(actor, job.id).catch((error) =>
      log("console", `queue job ${job.id}: ${(error as Error).message}`)
    );
    return c.redirect(`/messages/jobs/${job.id}`);
  });

  app.get("/messages/jobs/:id", async (c) => {
    const job = await service(c).job(c.var.actor!, c.req.param("id"));
    return sendPage(c, <JobPage job={job} />);
  });

  app.post("/messages/:id/act", async (c) => {
    const id = c.req.param("id");
    const form = await c.req.parseBody();
    await service(c).act(c.var.actor!, id, form["action"], undefined);
    return c.redirect(`/messages/${id}`);
  });

  app.get("/messages/:id/confirm", (c) => {
    const id = c.req.param("id");
    const action = c.req.query("action") === "bounce" ? "bounce" : "cancel";
    return sendPage(
      c,
      <ConfirmPage
        title={`${action} ${id}`}
        question={action === "bounce"
          ? `Bounce message ${id}? Its open recipients fail and the sender gets a DSN.`
          : `Cancel message ${id}? Its open recipients fail, without a DSN.`}
        action={`/messages/${id}/act`}
        back={`/messages/${id}`}
        label={action === "bounce" ? "Bounce" : "Cancel it"}
        hidden={{ action }}
        csrf={c.var.session!.csrfToken}
      />,
    );
  });

  app.get("/queue", async (c) => {
    const by = groupingOf(c.req.query("by"));
    const pauses = ctx.queueOps ? await ctx.queueOps.listPauses(c.var.actor!) : [];
    const view = await queueView(ctx.store, pauses, by, 100);
    return sendPage(c, <QueuePage view={view} pauses={pauses} />);
  });

  app.post("/queue/pauses", async (c) => {
    const form = await c.req.parseBody();
    const input: Record<string, string> = {};
    for (const key of ["domain", "source_kind", "source", "reason"]) {
      const value = form[key];
      if (typeof value === "string" && value.trim() !== "") input[key] = value.trim();
    }
    await service(c).addPause(c.var.actor!, input);
    return c.redirect(queueUrl(form["by"]));
  });

  app.post("/queue/pauses/:id/remove", async (c) => {
    const form = await c.req.parseBody();
    await service(c).removePause(c.var.actor!, c.req.param("id"));
    return c.redirect(queueUrl(form["by"]));
  });
  return app;
}
