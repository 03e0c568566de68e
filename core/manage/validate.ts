/** Input checked against a zod schema; a failure becomes a ValidationError naming each field. */
import type { z } from "zod";
import { ValidationError } from "./types.ts";

/** The parsed `input`, or a ValidationError with one issue per bad field ("dkim.bits"). */
export function validated<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw new ValidationError(
    result.error.issues.map((issue) => ({
      path: issue.path.map(String).join("."),
      message: issue.message,
    })),
  );
}
