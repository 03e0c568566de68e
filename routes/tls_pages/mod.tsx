/**
 * `/config/tls`: each SMTP listener's TLS certificate (subject, names, expiry, from
 * core/manage/tls_certificates.ts) and the uploaded certificates (kind tls_certificate) with
 * the upload form: `POST /config/tls` (multipart: pasted text or a chosen file for the chain
 * and the key; admin only, CSRF checked by the page guard), replacing an existing one only when
 * "replace" is ticked; `GET|POST /config/tls/delete?name=` after a confirmation. The service
 * validates (field named), stores the key as a secret, audits and broadcasts: live on every node.
 */
import { Hono } from "hono";
import type { Context } from "hono";
import type { ListenerBody } from "../../core/manage/kinds.ts";
import { ConflictError, ValidationError } from "../../core/manage/mod.ts";
import { summarize, type TlsCertificateBody } from "../../core/manage/tls_certificate_kind.ts";
import { listenerCertificates } from "../../core/manage/tls_certificates.ts";
import type { AdminContext, AdminEnv } from "../_context.ts";
import { sendPage } from "../_page.tsx";
import { ConfirmPage } from "../config/view.tsx";
import { tlsHref, type UploadState } from "./managed.tsx";
import { TlsPage } from "./view.tsx";

type Ctx = Pick<AdminContext, "config" | "management">;

/** A form field's text: the file chosen when there is one, else what was pasted. */
async function textOf(form: Record<string, unknown>, field: string): Promise<string> {
  const file = form[`${field}_file`];
  if (file instanceof File && file.size > 0) return await file.text();
  const text = form[field];
  return typeof text === "string" ? text.trim() : "";
}

/** TLS certificate pages (behind the page session check, CSRF included). */
export function tlsPages(ctx: Ctx): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();

  async function page(c: Context<AdminEnv>, state: UploadState, status: 200 | 400 = 200) {
    const listeners = ctx.management?.objects.listener;
    const objects = listeners
      ? (await listeners.list({ limit: 1000 })).items.map((o) => o.body as ListenerBody)
      : [];
    const service = ctx.management?.objects.tls_certificate;
    const stored = service ? (await service.list({ limit: 1000 })).items : [];
    const chains = new Map(stored.map((o) => [o.id, o.body.certificate]));
    const rows = await listenerCertificates(ctx.config, objects, chains);
    const managed = stored.map((o) => ({
      name: o.id,
      version: o.version,
      summary: summarize(o.body.certificate),
      updatedBy: o.updated_by,
    }));
    const canWrite = !!service && c.var.actor?.role === "admin";
    return sendPage(
      c,
      <TlsPage rows={rows} now={Date.now()} managed={{ rows: managed, canWrite, state }} />,
      status,
    );
  }

  app.get("/config/tls", (c) => {
    const saved = c.req.query("saved");
    const deleted = c.req.query("deleted");
    return page(c, {
      saved: saved
        ? `Saved "${saved}": applied on every node within seconds`
        : deleted
        ? `Deleted "${deleted}"`
        : undefined,
    });
  });

  app.post("/config/tls", async (c) => {
    const service = ctx.management?.objects.tls_certificate;
    if (!service) return c.notFound();
    const form = await c.req.parseBody();
    const body: TlsCertificateBody = {
      name: typeof form.name === "string" ? form.name.trim() : "",
      certificate: await textOf(form, "certificate"),
      private_key: await textOf(form, "private_key"),
    };
    const actor = c.var.actor!;
    try {
      const existing = await service.get(body.name);
      if (existing && form.replace !== "yes") {
        throw new ConflictError(
          `A certificate "${body.name}" exists: tick "Replace" to replace it`,
        );
      }
      if (existing) await service.update(body.name, body, actor);
      else await service.create(body, actor);
      return c.redirect(`/config/tls?saved=${encodeURIComponent(body.name)}`);
    } catch (error) {
      const errors = new Map<string, string>();
      if (error instanceof ValidationError) {
        for (const issue of error.issues) {
          const field = issue.path.split(".")[0];
          errors.set(field, [errors.get(field), issue.message].filter(Boolean).join("; "));
        }
      } else if (error instanceof ConflictError) errors.set("", error.message);
      else throw error;
      // The key is asked for again, never rendered back.
      return page(c, { name: body.name, certificate: body.certificate, errors }, 400);
    }
  });

  app.get("/config/tls/delete", async (c) => {
    const name = c.req.query("name") ?? "";
    const found = await ctx.management?.objects.tls_certificate.get(name);
    if (!found) return c.notFound();
    return sendPage(
      c,
      <ConfirmPage
        title={`Delete ${name}`}
        question={`Delete the TLS certificate “${name}”? Listeners naming it stop being served ` +
          `on every node.`}
        action={tlsHref("delete", name)}
        back="/config/tls"
        label="Delete"
        hidden={{ _version: String(found.version) }}
        csrf={c.var.session!.csrfToken}
      />,
    );
  });

  app.post("/config/tls/delete", async (c) => {
    const service = ctx.management?.objects.tls_certificate;
    const name = c.req.query("name") ?? "";
    if (!service || !(await service.get(name))) return c.notFound();
    const form = await c.req.parseBody();
    await service.remove(name, c.var.actor!, { ifVersion: Number(form._version) || undefined });
    return c.redirect(`/config/tls?deleted=${encodeURIComponent(name)}`);
  });
  return app;
}
