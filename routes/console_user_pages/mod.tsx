/**
 * Console users in the console, over the same core/manage service as /api/v1/console-users
 * (core/manage/console_users.ts: KDF-hashed, admin only, audited, the last admin kept):
 * `GET|POST /console-users` lists them and adds one (the password typed twice),
 * `POST /console-users/role?id=` changes a role, `GET|POST /console-users/delete?id=` removes
 * one after a confirmation. Only admins see the controls; anyone else's post is 403.
 */
import { Hono } from "hono";
import type { Context } from "hono";
import { requireRole } from "../../core/manage/roles.ts";
import {
  ConflictError,
  NotFoundError,
  type ObjectService,
  ValidationError,
} from "../../core/manage/types.ts";
import type { AdminEnv } from "../_context.ts";
import { sendPage } from "../_page.tsx";
import { ConfirmPage } from "../config/view.tsx";
import { ConsoleUsersPage, type ConsoleUsersState } from "./view.tsx";

/** What the console users pages take (the service the REST API has). */
export type ConsoleUserPagesContext = {
  domainServices?: { consoleUsers?: ObjectService };
};

type UserBody = { username: string; role: string };

/** The status line after a change (a fixed text per kind, so no link can put words here). */
function doneLine(done: string | undefined, user: string | undefined): string | undefined {
  const name = `“${user ?? ""}”`;
  return {
    added: `Added ${name}.`,
    role: `Changed the role of ${name}.`,
    removed: `Removed ${name}.`,
  }[
    done ?? ""
  ];
}

const done = (kind: string, user: string) =>
  `/console-users?done=${kind}&user=${encodeURIComponent(user)}`;

/** Console users pages (behind the page session check, CSRF included). */
export function consoleUserPages(ctx: ConsoleUserPagesContext): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  const serviceOf = () => {
    const service = ctx.domainServices?.consoleUsers as ObjectService<UserBody> | undefined;
    if (!service) throw new NotFoundError("page", "/console-users");
    return service;
  };
  const adminOnly = (c: Context<AdminEnv>) =>
    requireRole(c.var.actor!, ["admin"], "manage console users");
  const page = async (
    c: Context<AdminEnv>,
    state: Partial<ConsoleUsersState> = {},
    status: 200 | 400 | 409 = 200,
  ) => {
    const list = await serviceOf().list({ limit: 1000 });
    return sendPage(
      c,
      <ConsoleUsersPage
        users={list.items}
        values={state.values ?? {}}
        errors={state.errors ?? new Map()}
        rowError={state.rowError}
        done={state.done ?? doneLine(c.req.query("done"), c.req.query("user"))}
      />,
      status,
    );
  };
  const fieldOf = async (c: Context<AdminEnv>, name: string) => {
    const value = (await c.req.parseBody())[name];
    return typeof value === "string" ? value : "";
  };

  app.get("/console-users", (c) => page(c));
  app.post("/console-users", async (c) => {
    adminOnly(c);
    const service = serviceOf();
    const username = (await fieldOf(c, "username")).trim();
    const role = await fieldOf(c, "role");
    const password = await fieldOf(c, "password");
    const values = { username, role };
    if (password !== await fieldOf(c, "password_again")) {
      const errors = new Map([["password_again", ["The two passwords differ: type it again"]]]);
      return await page(c, { values, errors }, 400);
    }
    try {
      await service.create({ username, password, role }, c.var.actor!);
    } catch (error) {
      if (error instanceof ConflictError) {
        return await page(c, { values, errors: new Map([["", [error.message]]]) }, 409);
      }
      if (!(error instanceof ValidationError)) throw error;
      const errors = new Map<string, string[]>();
      for (const issue of error.issues) {
        errors.set(issue.path, [...(errors.get(issue.path) ?? []), issue.message]);
      }
      return await page(c, { values, errors }, 400);
    }
    return c.redirect(done("added", username));
  });
  app.post("/console-users/role", async (c) => {
    adminOnly(c);
    const id = c.req.query("id") ?? "";
    const role = await fieldOf(c, "role");
    try {
      await serviceOf().update(id, { role }, c.var.actor!);
    } catch (error) {
      if (!(error instanceof ConflictError || error instanceof ValidationError)) throw error;
      return await page(c, { rowError: { username: id, message: error.message } }, 409);
    }
    return c.redirect(done("role", id));
  });
  app.get("/console-users/delete", (c) => {
    adminOnly(c);
    const id = c.req.query("id") ?? "";
    return sendPage(
      c,
      <ConfirmPage
        title={`Remove ${id}`}
        question={`Remove console user “${id}”? Their sessions end at once.`}
        action={`/console-users/delete?id=${encodeURIComponent(id)}`}
        back="/console-users"
        label="Remove"
        csrf={c.var.session!.csrfToken}
      />,
    );
  });
  app.post("/console-users/delete", async (c) => {
    adminOnly(c);
    const id = c.req.query("id") ?? "";
    try {
      await serviceOf().remove(id, c.var.actor!);
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
      return await page(c, { rowError: { username: id, message: error.message } }, 409);
    }
    return c.redirect(done("removed", id));
  });
  return app;
}
