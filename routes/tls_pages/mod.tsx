/**
 * `GET /config/tls`: each SMTP listener's TLS certificate (subject, names, expiry), from
 * core/manage/tls_certificates.ts. A listener's certificate path is set on its object
 * (`/config/listener`); the SMTP side rebinds it live.
 */
import { Hono } from "hono";
import type { ListenerBody } from "../../core/manage/kinds.ts";
import { listenerCertificates } from "../../core/manage/tls_certificates.ts";
import type { AdminContext, AdminEnv } from "../_context.ts";
import { sendPage } from "../_page.tsx";
import { TlsPage } from "./view.tsx";

/** TLS certificate pages (behind the page session check). */
export function tlsPages(ctx: Pick<AdminContext, "config" | "management">): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  app.get("/config/tls", async (c) => {
    const service = ctx.management?.objects.listener;
    const objects = service
      ? (await service.list({ limit: 1000 })).items.map((o) => o.body as ListenerBody)
      : [];
    const rows = await listenerCertificates(ctx.config, objects);
    return sendPage(c, <TlsPage rows={rows} now={Date.now()} />);
  });
  return app;
}
