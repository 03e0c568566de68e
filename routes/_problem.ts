/**
 * Every error of the JSON API as RFC 9457 problem details (`application/problem+json`,
 * core/api/schemas.ts `ProblemSchema`): the core errors of core/manage/types.ts map to their
 * status here and nowhere else, zod failures list each field's path, and anything unexpected is
 * a 500 whose detail says nothing of the cause (the log has it).
 */
import type { Context, ErrorHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ZodError } from "zod";
import type { ProblemBody } from "../core/api/schemas.ts";
import { log } from "../core/log.ts";
import {
  ConflictError,
  type FieldIssue,
  ForbiddenError,
  NotFoundError,
  ValidationError,
  VersionConflictError,
} from "../core/manage/types.ts";

/** Media type of every error answer. */
export const PROBLEM_TYPE = "application/problem+json";

const TITLES: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  409: "Conflict",
  412: "Precondition Failed",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  428: "Precondition Required",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

/** An error a handler throws to answer with `status` and `detail` (and field problems). */
export class ApiProblem extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    detail: string,
    readonly errors?: FieldIssue[],
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
    this.name = "ApiProblem";
  }
}

/** The problem document for `status`; `type` is "about:blank" (the status says it all). */
export function problemBody(
  status: number,
  detail: string,
  errors?: FieldIssue[],
): ProblemBody {
  const body: ProblemBody = {
    type: "about:blank",
    title: TITLES[status] ?? "Error",
    status,
    detail,
  };
  if (errors && errors.length > 0) body.errors = errors;
  return body;
}

/** Answers with a problem document. */
export function problem(
  c: Context,
  status: ContentfulStatusCode,
  detail: string,
  errors?: FieldIssue[],
): Response {
  return c.body(JSON.stringify(problemBody(status, detail, errors)), status, {
    "Content-Type": PROBLEM_TYPE,
  });
}

/** A zod error as field problems: the path as written in JSON ("rules.0.max"). */
export function fieldIssues(error: ZodError, prefix = ""): FieldIssue[] {
  return error.issues.map((issue) => ({
    path: [prefix, ...issue.path.map(String)].filter((p) => p !== "").join("."),
    message: issue.message,
  }));
}

/** The status and field problems for a thrown error, or null when it is not one we know. */
export function statusOf(
  error: unknown,
): { status: ContentfulStatusCode; errors?: FieldIssue[] } | null {
  if (error instanceof ApiProblem) return { status: error.status, errors: error.errors };
  if (error instanceof ValidationError) return { status: 400, errors: error.issues };
  if (error instanceof NotFoundError) return { status: 404 };
  if (error instanceof ConflictError) return { status: 409 };
  if (error instanceof VersionConflictError) return { status: 412 };
  if (error instanceof ForbiddenError) return { status: 403 };
  // Hono's own refusals (e.g. "Malformed JSON in request body"): their status, as a problem.
  if (error instanceof HTTPException) return { status: error.status as ContentfulStatusCode };
  return null;
}

/** `app.onError` of the API: known errors as their problem, the rest as a logged 500. */
export function apiErrorHandler(): ErrorHandler {
  return function apiErrorHandler(error, c) {
    const known = statusOf(error);
    if (!known) {
      log("api", `${c.req.method} ${c.req.path} failed: ${(error as Error).stack ?? error}`);
      return problem(c, 500, "The server failed to answer; the error is in its log");
    }
    if (error instanceof ApiProblem) {
      for (const [name, value] of Object.entries(error.headers)) c.header(name, value);
    }
    if (error instanceof VersionConflictError) c.header("ETag", `"${error.current}"`);
    const detail = known.status === 415
      ? "Unsupported Media Type: send the body as application/json"
      : (error as Error).message;
    return problem(c, known.status, detail, known.errors);
  };
}
