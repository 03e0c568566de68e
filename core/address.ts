/** Small helpers for envelope addresses. */

/** The domain of an address, lower-cased; "" for an address without one. */
export function domainOf(address: string): string {
  const at = address.lastIndexOf("@");
  return at < 0 ? "" : address.slice(at + 1).toLowerCase().replace(/^\[|\]$/g, "");
}
