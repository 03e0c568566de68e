/** Envelope addresses: the domain of one, and whether one is usable. */

/** The domain of an address, lower-cased; "" for an address without one. */
export function domainOf(address: string): string {
  const at = address.lastIndexOf("@");
  return at < 0 ? "" : address.slice(at + 1).toLowerCase().replace(/^\[|\]$/g, "");
}

/**
 * The key two envelope addresses are the same mailbox by: the local part exactly as given (RFC
 * 5321 §2.4: it is case-sensitive, only the destination may fold it) and the domain lower-cased.
 */
export function mailboxKey(address: string): string {
  const at = address.lastIndexOf("@");
  return at < 0 ? address : `${address.slice(0, at)}@${address.slice(at + 1).toLowerCase()}`;
}

/**
 * Whether the local part routes the mail on by itself: the percent hack (`user%host@relay`),
 * a bang path (`host!user@relay`), an `@` inside a quoted local part, or a source route
 * (`@relay:user@host`). A server that passed such an address on to a next hop that still honours
 * the syntax would relay for anyone (Postfix refuses it from strangers: `allow_untrusted_routing`).
 */
export function hasRoutingSyntax(address: string): boolean {
  if (address.startsWith("@")) return true;
  const at = address.lastIndexOf("@");
  const local = at < 0 ? address : address.slice(0, at);
  return /[%!@]/.test(local);
}

/** The envelope address form the channels accept: no spaces, brackets, quotes or commas. */
const MAILBOX = /^[^\s<>()@,;:"]+@[^\s<>()@,;:"]+$/;

/** The local part of an address (everything before the last "@"). */
export function localPartOf(address: string): string {
  const at = address.lastIndexOf("@");
  return at < 0 ? address : address.slice(0, at);
}

/** Whether `address` is a usable envelope address: a local part, "@", a non-empty domain. */
export function isMailboxAddress(address: string): boolean {
  return MAILBOX.test(address) && domainOf(address) !== "";
}
