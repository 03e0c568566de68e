/** Dates in mail headers (RFC 5322 §3.3): `Date:`, `Received:`, DSN date fields. */

/** An RFC 5322 date-time in UTC: "Tue, 01 Jan 2030 02:03:04 +0000". */
export function rfc5322Date(when: Date | number): string {
  return (typeof when === "number" ? new Date(when) : when).toUTCString().replace("GMT", "+0000");
}
