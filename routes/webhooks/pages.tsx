/**
 * The console's webhooks page: `GET /webhooks` lists them with their delivery status; forms add
 * one (`POST /webhooks`), replay a webhook's dead letters (`POST /webhooks/:id/replay`) and
 * remove one (`POST /webhooks/:id/remove`). Every change goes through the webhook service with
 * the console user as the actor (its role decides; the session's CSRF token is checked by the
 * page guard); a refused change answers with the service's message.
 */
import { Hono } from "hono";
import type { Context } from "hono";
import type { VNode } from "preact";
import {
  ForbiddenError,
  NotFoundError,
  type StoredObject,
  ValidationError,
} from "../../core/manage/types.ts";
import type { WebhookBody, WebhookService } from "../../core/manage/webhooks.ts";
import type { AdminEnv } from "../_context.ts";
import { sendPage } from "../_page.tsx";
import { ActionForm } from "../_components/action_form.tsx";
import { Layout } from "../_components/layout.tsx";
import { useSession } from "../_components/session.ts";

function when(ms: number | null): string {
  return ms === null ? "–" : new Date(ms).toISOString().replace("T", " ").slice(0, 19);
}

function AddForm(): VNode {
  const session = useSession();
  const field = "border rounded px-2 py-1 text-sm";
  return (
    <form method="post" action="/webhooks" class="flex flex-wrap gap-2 items-end mb-6">
      <input type="hidden" name="_csrf" value={session?.csrfToken ?? ""} />
      <input name="url" placeholder="https://hooks.example.org/fastmta" class={field} size={40} />
      <input name="events" placeholder="delivered,bounced" class={field} />
      <input name="secret" type="password" placeholder="secret (16+ characters)" class={field} />
      <button type="submit" class="px-3 py-1 rounded bg-gray-800 text-white text-sm">Add</button>
    </form>
  );
}

/** The page. */
export function WebhooksPage(props: { webhooks: StoredObject<WebhookBody>[] }): VNode {
  return (
    <Layout title="Webhooks">
      <h1 class="text-2xl font-bold mb-4">Webhooks</h1>
      <AddForm />
      <table class="w-full text-sm">
        <thead>
          <tr class="text-left border-b">
            <th>id</th>
            <th>url</th>
            <th>events</th>
            <th>delivered</th>
            <th>dead</th>
            <th>failures</th>
            <th>last success</th>
            <th>last error</th>
            <th></th>
          </tr>
        </thead>
        <tbody>
          {props.webhooks.map((w) => (
            <tr key={w.id} class="border-b align-top">
              <td class="font-mono">{w.id}</td>
              <td class="font-mono break-all">{w.body.url}</td>
              <td>{w.body.events.join(", ")}</td>
              <td>{w.body.status.delivered}</td>
              <td>{w.body.status.dead}</td>
              <td>{w.body.status.failures}</td>
              <td>{when(w.body.status.last_success_at)}</td>
              <td>{w.body.status.last_error ?? "–"}</td>
              <td class="whitespace-nowrap">
                <ActionForm action={`/webhooks/${w.id}/replay`} label="Replay dead letters" />{" "}
                <ActionForm action={`/webhooks/${w.id}/remove`} label="Remove" />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </Layout>
  );
}

async function refused(c: Context<AdminEnv>, run: () => Promise<unknown>): Promise<Response> {
  try {
    await run();
    return c.redirect("/webhooks");
  } catch (error) {
    if (error instanceof ValidationError) return c.text(error.message, 400);
    if (error instanceof ForbiddenError) return c.text(error.message, 403);
    if (error instanceof NotFoundError) return c.text(error.message, 404);
    throw error;
  }
}

/** Webhook pages (behind the page session check); absent service: 503. */
export function webhookPages(ctx: { webhooks?: WebhookService }): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  app.get("/webhooks", async (c) => {
    if (!ctx.webhooks) return c.text("Webhooks are not served here", 503);
    const { items } = await ctx.webhooks.list({ limit: 1_000 });
    return sendPage(c, <WebhooksPage webhooks={items} />);
  });
  app.post("/webhooks", async (c) => {
    if (!ctx.webhooks) return c.text("Webhooks are not served here", 503);
    const form = await c.req.parseBody();
    const text = (name: string) => typeof form[name] === "string" ? form[name] as string : "";
    return await refused(c, () =>
      ctx.webhooks!.create({
        url: text("url"),
        events: text("events").split(",").map((e) => e.trim()).filter((e) => e !== ""),
        secret: text("secret"),
      }, c.var.actor!));
  });
  app.post(
    "/webhooks/:id/replay",
    (c) => refused(c, () => ctx.webhooks!.replay(c.req.param("id"), c.var.actor!)),
  );
  app.post(
    "/webhooks/:id/remove",
    (c) => refused(c, () => ctx.webhooks!.remove(c.req.param("id"), c.var.actor!)),
  );
  return app;
}
