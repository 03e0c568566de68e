/**
 * Mail formats every stage shares: envelope addresses, RFC 5322 dates, xtext (RFC 3461) and
 * trace headers. A bottom layer: it imports nothing of the program's own.
 */
export {
  domainOf,
  hasRoutingSyntax,
  isMailboxAddress,
  localPartOf,
  mailboxKey,
} from "./address.ts";
export { rfc5322Date } from "./date.ts";
export { decodeXtext, encodeXtext } from "./xtext.ts";
export { receivedHeader, type ReceivedInfo, traceHeader, type TraceSource } from "./trace.ts";
