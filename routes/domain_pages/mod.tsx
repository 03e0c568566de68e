/**
 * Sending domain and suppression pages over core/manage's DomainService and SuppressionService
 * (the services /api/v1/domains and /api/v1/suppressions use): `GET|POST /domains`,
 * `GET /domains/:name` (keys, DNS records; `?check=1` checks them against live DNS with
 * core/manage/dns_check.ts, and each vmta's forward-confirmed reverse DNS), `GET|POST /suppressions` (search, add),
 * `POST /suppressions/remove`, `POST /suppressions/import` (CSV, all or nothing),
 * `GET /suppressions.csv` (export). An invalid value is shown on the page; nothing changes.
 */
import { Hono } from "hono";
import type { Context } from "hono";
import { DomainCreateSchema } from "../../core/api/manage_schemas.ts";
import type { DomainService } from "../../core/manage/domains.ts";
import type { SuppressionService } from "../../core/manage/suppressions.ts";
import { NotFoundError, ValidationError } from "../../core/manage/types.ts";
import type { Management } from "../../core/manage/mod.ts";
import type { Config } from "../../core/config/mod.ts";
import { checkDomainDns, type DnsCheck } from "../../core/manage/dns_check.ts";
import { DnsClient } from "../../core/routing/dns.ts";
import type { AdminEnv } from "../_context.ts";
import { sendPage } from "../_page.tsx";
import { bodyOf, formFields, issuesByField } from "../config/fields.ts";
import { DomainPage, DomainsPage, SuppressionsPage } from "./view.tsx";

/** What these pages take. */
export type DomainPagesContext = {
  domainServices?: { domains: DomainService; suppressions: SuppressionService };
  /** The vmtas whose IPs and EHLO names the DNS check covers. */
  management?: Pick<Management, "objects">;
  config: Pick<Config, "dns">;
};

const DOMAIN_FIELDS = formFields(DomainCreateSchema);

function strings(form: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(form).filter(([k, v]) => typeof v === "string" && !k.startsWith("_")),
  ) as Record<string, string>;
}

/** Domain and suppression pages (behind the page session check). */
export function domainPages(ctx: DomainPagesContext): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  const services = (c: Context<AdminEnv>) => {
    if (!ctx.domainServices) throw new NotFoundError("page", c.req.path);
    return ctx.domainServices;
  };

  const domainsPage = async (
    c: Context<AdminEnv>,
    values: Record<string, string> = {},
    errors = new Map<string, string[]>(),
  ) => {
    const page = await services(c).domains.list({ limit: 1000 }, c.var.actor!);
    return sendPage(
      c,
      <DomainsPage domains={page.items} fields={DOMAIN_FIELDS} values={values} errors={errors} />,
      errors.size ? 400 : 200,
    );
  };

  app.get("/domains", (c) => domainsPage(c));
  app.post("/domains", async (c) => {
    const values = strings(await c.req.parseBody());
    const { body, issues } = bodyOf(DOMAIN_FIELDS, values);
    try {
      if (issues.length) throw new ValidationError(issues);
      const created = await services(c).domains.create(body, c.var.actor!);
      return c.redirect(`/domains/${created.id}?created=1`);
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      return await domainsPage(c, values, issuesByField(DOMAIN_FIELDS, error.issues));
    }
  });
  app.get("/domains/:name", async (c) => {
    const { domains } = services(c);
    const domain = await domains.get(c.req.param("name"), c.var.actor!);
    if (!domain) return c.notFound();
    const records = await domains.dns(domain.id, c.var.actor!);
    let checks: DnsCheck[] | undefined;
    if (c.req.query("check") === "1") {
      const vmtas = ctx.management
        ? (await ctx.management.objects.vmta.list({ limit: 1000 })).items
          .filter((v) => v.body.enabled).map((v) => v.body)
        : [];
      const dns = new DnsClient(ctx.config.dns.servers, ctx.config.dns.timeout);
      checks = await checkDomainDns(dns, records, vmtas);
    }
    return sendPage(
      c,
      <DomainPage
        domain={domain}
        records={records}
        created={c.req.query("created") === "1"}
        checks={checks}
      />,
    );
  });

  const suppressionsPage = async (
    c: Context<AdminEnv>,
    state: { notice?: string; error?: string } = {},
  ) => {
    const q = c.req.query("q") ?? "";
    const page = await services(c).suppressions.list({
      address_prefix: q || undefined,
      cursor: c.req.query("cursor"),
      limit: 100,
    }, c.var.actor!);
    return sendPage(
      c,
      <SuppressionsPage items={page.items} nextCursor={page.next_cursor} q={q} {...state} />,
      state.error ? 400 : 200,
    );
  };
  const describe = (error: ValidationError) =>
    error.issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join("; ");

  app.get(
    "/suppressions",
    (c) =>
      suppressionsPage(
        c,
        c.req.query("imported") ? { notice: `Imported ${c.req.query("imported")} entries` } : {},
      ),
  );
  app.get("/suppressions.csv", async (c) => {
    const csv = await services(c).suppressions.exportCsv(c.var.actor!);
    c.header("Content-Type", "text/csv; charset=utf-8");
    c.header("Content-Disposition", 'attachment; filename="suppressions.csv"');
    return c.body(csv);
  });
  app.post("/suppressions", async (c) => {
    const form = strings(await c.req.parseBody());
    const input: Record<string, string> = {};
    for (const key of ["address", "scope", "reason"]) if (form[key]) input[key] = form[key].trim();
    try {
      await services(c).suppressions.add(input, c.var.actor!);
      return c.redirect("/suppressions");
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      return await suppressionsPage(c, { error: describe(error) });
    }
  });
  app.post("/suppressions/remove", async (c) => {
    const form = strings(await c.req.parseBody());
    await services(c).suppressions.remove(form.address ?? "", c.var.actor!, {
      scope: form.scope ?? "",
    });
    return c.redirect("/suppressions");
  });
  app.post("/suppressions/import", async (c) => {
    const file = (await c.req.parseBody())["file"];
    const text = typeof file === "string" ? file : file ? await file.text() : "";
    try {
      const count = await services(c).suppressions.importCsv(text, c.var.actor!);
      return c.redirect(`/suppressions?imported=${count}`);
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      return await suppressionsPage(c, { error: `Nothing imported: ${describe(error)}` });
    }
  });
  return app;
}
