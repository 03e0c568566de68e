/**
 * SMTP replies of the inbound channel as smtp-server expects them: an Error carrying its
 * `responseCode`.
 */
import type { HeaderLimits, HeaderProblem } from "./header_limits.ts";

/** An error smtp-server turns into the reply `responseCode message`. */
export type ResponseError = Error & { responseCode?: number };

/** The reply `code text` as smtp-server takes it from a handler. */
export function smtpError(code: number, text: string): ResponseError {
  const error: ResponseError = new Error(text);
  error.responseCode = code;
  return error;
}

/**
 * The reply to a message whose header section breaks a limit: 552 5.3.4 for its size or number
 * of fields (too big for us, RFC 3463), 554 5.6.0 for a line over the RFC 5322 limit (content we
 * cannot carry). The session goes on; the client may send the next message.
 */
export function headerRefusal(problem: HeaderProblem, limits: HeaderLimits): ResponseError {
  switch (problem) {
    case "size":
      return smtpError(552, `5.3.4 Error: message header section exceeds ${limits.maxBytes} bytes`);
    case "fields":
      return smtpError(
        552,
        `5.3.4 Error: message header has more than ${limits.maxFields} fields`,
      );
    case "line":
      return smtpError(
        554,
        `5.6.0 Error: message header line longer than ${limits.maxLineLength} octets`,
      );
  }
}
