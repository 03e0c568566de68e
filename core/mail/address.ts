/** Envelope addresses: the domain of one, and whether one is usable. */

/** The domain of an address, lower-cased; "" for an address without one. */
export function domainOf(address: string): string {
  const at = address.lastIndexOf("@");
  return at < 0 ? "" : address.slice(at + 1).toLowerCase().replace(/^\[|\]$/g, "");
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
