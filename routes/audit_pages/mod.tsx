/**
 * Audit pages over core/manage's audit log: `GET /audit` (newest first, `?kind=`, `?cursor=`),
 * `GET /audit/:id` (the diff), `POST /audit/:id/revert` (admins; the service checks the role
 * and records the revert as its own entry).
 */
import { Hono } from "hono";
import { isKind, KINDS, type Management, NotFoundError } from "../../core/manage/mod.ts";
import type { AdminEnv } from "../_context.ts";
import { ADMINS } from "../_roles.ts";
import { requirePageSession } from "../_auth.ts";
import { sendPage } from "../_page.tsx";
import { AuditEntryPage, AuditListPage } from "./view.tsx";

const PAGE_SIZE = 50;

/** Audit pages (behind the page session check). */
export function auditPages(ctx: { management?: Management }): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  app.get("/audit", async (c) => {
    const kind = c.req.query("kind") || undefined;
    const page = ctx.management
      ? await ctx.management.audit.list({ limit: PAGE_SIZE, cursor: c.req.query("cursor"), kind })
      : { items: [] };
    return sendPage(
      c,
      <AuditListPage
        entries={page.items}
        nextCursor={page.next_cursor}
        kind={kind}
        kinds={Object.keys(KINDS)}
      />,
    );
  });
  app.get("/audit/:id{[0-9]+}", async (c) => {
    if (!ctx.management) return c.notFound();
    const entry = await ctx.management.audit.get(Number(c.req.param("id")));
    return sendPage(
      c,
      <AuditEntryPage
        entry={entry}
        revertable={isKind(entry.kind)}
        reverted={c.req.query("reverted") === "1"}
      />,
    );
  });
  app.post(
    "/audit/:id{[0-9]+}/revert",
    requirePageSession({ write: ADMINS }),
    async (c) => {
      if (!ctx.management) throw new NotFoundError("audit entry", c.req.param("id"));
      const entry = await ctx.management.audit.revert(Number(c.req.param("id")), c.var.actor!);
      return c.redirect(`/audit/${entry.id}?reverted=1`);
    },
  );
  return app;
}
