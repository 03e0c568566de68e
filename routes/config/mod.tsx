/**
 * Configuration pages over the management plane (core/manage): `GET /config` the kinds,
 * `GET|POST /config/:kind` its objects and a new one, `GET|POST /config/:kind/edit?id=` one
 * object, `GET|POST /config/:kind/delete?id=` its removal after a confirmation. Forms are made
 * from each kind's schema (fields.ts); the service validates, versions, audits and broadcasts,
 * exactly as for the REST API, so a change here is live on every node. An invalid value is shown
 * next to its field with the form as typed, and nothing is changed.
 */
import { Hono } from "hono";
import type { Context } from "hono";
import {
  type Actor,
  ConflictError,
  type FieldIssue,
  type Management,
  ValidationError,
  VersionConflictError,
} from "../../core/manage/mod.ts";
import type { KindService } from "../../core/manage/mod.ts";
import type { AdminEnv } from "../_context.ts";
import { sendPage } from "../_page.tsx";
import { bodyOf, formFields, formValues, issuesByField } from "./fields.ts";
import {
  ConfigIndexPage,
  ConfirmPage,
  KIND_TITLES,
  KindPage,
  objectHref,
  ObjectPage,
} from "./view.tsx";

/** What the configuration pages take. */
export type ConfigContext = { management?: Management };

const PAGE_SIZE = 50;

function formStrings(form: Record<string, unknown>): Record<string, string> {
  const strings: Record<string, string> = {};
  for (const [key, value] of Object.entries(form)) {
    if (typeof value === "string" && !key.startsWith("_")) strings[key] = value;
  }
  return strings;
}

/** The problems of a failed change as field issues ("" : about the whole object). */
function issuesOf(error: unknown): FieldIssue[] | null {
  if (error instanceof ValidationError) return error.issues;
  if (error instanceof ConflictError || error instanceof VersionConflictError) {
    return [{ path: "", message: error.message }];
  }
  return null;
}

function canWrite(service: KindService<unknown>, actor: Actor | null): boolean {
  return !!actor && (service.definition.writeRoles ?? ["admin"]).includes(actor.role);
}

/** Configuration pages (behind the page session check, CSRF included). */
export function configPages(ctx: ConfigContext): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  const serviceOf = (c: Context<AdminEnv>) => {
    const kind = c.req.param("kind") ?? "";
    return Object.hasOwn(KIND_TITLES, kind) ? ctx.management?.service(kind) ?? null : null;
  };

  app.get("/config", async (c) => {
    const counts: Record<string, number> = {};
    if (ctx.management) {
      for (const kind of Object.keys(KIND_TITLES)) {
        const page = await ctx.management.service(kind)!.list({ limit: 1000 });
        counts[kind] = page.items.length;
      }
    }
    return sendPage(c, <ConfigIndexPage counts={counts} />);
  });

  async function kindPage(
    c: Context<AdminEnv>,
    service: KindService<unknown>,
    state: { values?: Record<string, string>; issues?: FieldIssue[]; status?: 200 | 400 },
  ) {
    const fields = formFields(service.definition.schema);
    const page = await service.list({ cursor: c.req.query("cursor"), limit: PAGE_SIZE });
    const saved = c.req.query("deleted") ? `Deleted ${c.req.query("deleted")}` : undefined;
    return sendPage(
      c,
      <KindPage
        kind={service.kind}
        objects={page.items}
        nextCursor={page.next_cursor}
        canWrite={canWrite(service, c.var.actor)}
        fields={fields}
        values={state.values ?? {}}
        errors={issuesByField(fields, state.issues ?? [])}
        saved={saved}
      />,
      state.status ?? 200,
    );
  }

  app.get("/config/:kind", async (c) => {
    const service = serviceOf(c);
    if (!service) return c.notFound();
    return await kindPage(c, service, {});
  });

  app.post("/config/:kind", async (c) => {
    const service = serviceOf(c);
    if (!service) return c.notFound();
    const values = formStrings(await c.req.parseBody());
    const fields = formFields(service.definition.schema);
    const { body, issues } = bodyOf(fields, values);
    try {
      if (issues.length) throw new ValidationError(issues);
      const created = await service.create(body, c.var.actor!);
      return c.redirect(objectHref(service.kind, created.id) + "&saved=1");
    } catch (error) {
      const problems = issuesOf(error);
      if (!problems) throw error;
      return await kindPage(c, service, { values, issues: problems, status: 400 });
    }
  });

  app.get("/config/:kind/edit", async (c) => {
    const service = serviceOf(c);
    const id = c.req.query("id") ?? "";
    const object = service ? await service.get(id) : null;
    if (!service || !object) return c.notFound();
    const fields = formFields(service.definition.schema);
    return sendPage(
      c,
      <ObjectPage
        kind={service.kind}
        object={object}
        canWrite={canWrite(service, c.var.actor)}
        fields={fields}
        values={formValues(fields, object.body)}
        errors={new Map()}
        saved={c.req.query("saved") ? "Saved: applied on every node within seconds" : undefined}
      />,
    );
  });

  app.post("/config/:kind/edit", async (c) => {
    const service = serviceOf(c);
    const id = c.req.query("id") ?? "";
    const object = service ? await service.get(id) : null;
    if (!service || !object) return c.notFound();
    const form = await c.req.parseBody();
    const values = formStrings(form);
    const fields = formFields(service.definition.schema);
    const { body, issues } = bodyOf(fields, values);
    try {
      if (issues.length) throw new ValidationError(issues);
      const ifVersion = Number(form["_version"]) || undefined;
      await service.update(id, body, c.var.actor!, { ifVersion });
      return c.redirect(objectHref(service.kind, id) + "&saved=1");
    } catch (error) {
      const problems = issuesOf(error);
      if (!problems) throw error;
      return sendPage(
        c,
        <ObjectPage
          kind={service.kind}
          object={object}
          canWrite
          fields={fields}
          values={values}
          errors={issuesByField(fields, problems)}
        />,
        400,
      );
    }
  });

  app.get("/config/:kind/delete", async (c) => {
    const service = serviceOf(c);
    const id = c.req.query("id") ?? "";
    const object = service ? await service.get(id) : null;
    if (!service || !object) return c.notFound();
    return sendPage(
      c,
      <ConfirmPage
        title={`Delete ${id}`}
        question={`Delete ${
          service.kind.replace("_", " ")
        } “${id}”? This is applied on every node.`}
        action={objectHref(service.kind, id, "delete")}
        back={objectHref(service.kind, id)}
        label="Delete"
        hidden={{ _version: String(object.version) }}
        csrf={c.var.session!.csrfToken}
      />,
    );
  });

  app.post("/config/:kind/delete", async (c) => {
    const service = serviceOf(c);
    if (!service) return c.notFound();
    const id = c.req.query("id") ?? "";
    const form = await c.req.parseBody();
    await service.remove(id, c.var.actor!, { ifVersion: Number(form["_version"]) || undefined });
    return c.redirect(`/config/${service.kind}?deleted=${encodeURIComponent(id)}`);
  });
  return app;
}
