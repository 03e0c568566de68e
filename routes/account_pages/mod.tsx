/**
 * SMTP users and API keys in the console, over the same core/manage services as
 * /api/v1/smtp-users and /api/v1/api-keys (validated, role-checked, audited): `GET|POST
 * /accounts/:kind` lists them and makes one from a form generated from the create schema (an
 * API key is shown once, on the page that answers its creation), `GET|POST
 * /accounts/:kind/delete?id=` removes one after a confirmation. Passwords and keys are never
 * shown again.
 */
import { Hono } from "hono";
import type { Context } from "hono";
import type { z } from "zod";
import { ApiKeyCreateSchema, SmtpUserCreateSchema } from "../../core/api/manage_schemas.ts";
import {
  ConflictError,
  NotFoundError,
  type ObjectService,
  ValidationError,
} from "../../core/manage/types.ts";
import type { AdminEnv } from "../_context.ts";
import { sendPage } from "../_page.tsx";
import { bodyOf, formFields, issuesByField } from "../config/fields.ts";
import { ConfirmPage } from "../config/view.tsx";
import { AccountsPage } from "./view.tsx";

/** What the account pages take (the services the REST API has). */
export type AccountPagesContext = {
  domainServices?: { smtpUsers?: ObjectService; apiKeys?: ObjectService };
};

/** The account kinds: title, create schema, which service. */
export const ACCOUNT_KINDS: Record<
  string,
  { title: string; schema: z.ZodType; service: "smtpUsers" | "apiKeys" }
> = {
  "smtp-users": { title: "SMTP users", schema: SmtpUserCreateSchema, service: "smtpUsers" },
  "api-keys": { title: "API keys", schema: ApiKeyCreateSchema, service: "apiKeys" },
};

/** Account pages (behind the page session check). */
export function accountPages(ctx: AccountPagesContext): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  const kindOf = (c: Context<AdminEnv>) => {
    const kind = c.req.param("kind") ?? "";
    const def = Object.hasOwn(ACCOUNT_KINDS, kind) ? ACCOUNT_KINDS[kind] : null;
    const service = def ? ctx.domainServices?.[def.service] : undefined;
    if (!def || !service) throw new NotFoundError("page", c.req.path);
    return { kind, def, service, fields: formFields(def.schema) };
  };
  const page = async (
    c: Context<AdminEnv>,
    state: {
      values?: Record<string, string>;
      errors?: Map<string, string[]>;
      shownOnce?: string;
      status?: 200 | 201 | 400;
    } = {},
  ) => {
    const { kind, def, service, fields } = kindOf(c);
    const list = await service.list({ limit: 1000 });
    return sendPage(
      c,
      <AccountsPage
        kind={kind}
        title={def.title}
        items={list.items}
        fields={fields}
        values={state.values ?? {}}
        errors={state.errors ?? new Map()}
        shownOnce={state.shownOnce}
      />,
      state.status ?? 200,
    );
  };

  app.get("/accounts/:kind", (c) => page(c));
  app.post("/accounts/:kind", async (c) => {
    const { service, fields } = kindOf(c);
    const form = await c.req.parseBody();
    const values = Object.fromEntries(
      Object.entries(form).filter(([k, v]) => typeof v === "string" && !k.startsWith("_")),
    ) as Record<string, string>;
    const { body, issues } = bodyOf(fields, values);
    try {
      if (issues.length) throw new ValidationError(issues);
      const created = await service.create(body, c.var.actor!);
      const key = (created.body as { key?: string }).key;
      return await page(c, { shownOnce: key, status: 201 });
    } catch (error) {
      if (error instanceof ConflictError) {
        return await page(c, {
          values: { ...values, password: "" },
          errors: new Map([["", [error.message]]]),
          status: 400,
        });
      }
      if (!(error instanceof ValidationError)) throw error;
      return await page(c, {
        values: { ...values, password: "" },
        errors: issuesByField(fields, error.issues),
        status: 400,
      });
    }
  });
  app.get("/accounts/:kind/delete", (c) => {
    const { kind, def } = kindOf(c);
    const id = c.req.query("id") ?? "";
    return sendPage(
      c,
      <ConfirmPage
        title={`Remove ${id}`}
        question={`Remove ${def.title.replace(/s$/, "")} “${id}”? It stops working at once.`}
        action={`/accounts/${kind}/delete?id=${encodeURIComponent(id)}`}
        back={`/accounts/${kind}`}
        label="Remove"
        csrf={c.var.session!.csrfToken}
      />,
    );
  });
  app.post("/accounts/:kind/delete", async (c) => {
    const { kind, service } = kindOf(c);
    await service.remove(c.req.query("id") ?? "", c.var.actor!);
    return c.redirect(`/accounts/${kind}`);
  });
  return app;
}
