/**
 * The console's answers for a path no route has and for a page that failed: styled pages (not
 * Hono's bare "404 Not Found"); API paths keep their problem documents (routes/_api.ts). A
 * failure logs its message server-side and shows none of it.
 */
import type { Context, ErrorHandler, NotFoundHandler } from "hono";
import { log } from "../core/log.ts";
import { ForbiddenError, NotFoundError } from "../core/manage/types.ts";
import type { AdminEnv } from "./_context.ts";
import { ErrorPage } from "./_components/error_page.tsx";
import { sendPage } from "./_page.tsx";

function notFoundPage(c: Context<AdminEnv>) {
  return sendPage(
    c,
    <ErrorPage
      status={404}
      title="Page not found"
      detail={`Nothing is at ${c.req.path}. It may have been deleted, or the link is wrong.`}
    />,
    404,
  );
}

/** `app.notFound` of the console. */
export function consoleNotFound(): NotFoundHandler<AdminEnv> {
  return (c) => notFoundPage(c);
}

/** `app.onError` of the console pages. */
export function consoleError(): ErrorHandler<AdminEnv> {
  return (error, c) => {
    if (error instanceof NotFoundError) return notFoundPage(c);
    if (error instanceof ForbiddenError) {
      return sendPage(
        c,
        <ErrorPage status={403} title="Not allowed" detail={error.message} />,
        403,
      );
    }
    log("console", `${c.req.method} ${c.req.path} failed: ${(error as Error).message}`);
    return sendPage(
      c,
      <ErrorPage
        status={500}
        title="Something went wrong"
        detail="The page could not be shown. The server log says why; try again in a moment."
      />,
      500,
    );
  };
}
