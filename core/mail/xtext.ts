/**
 * xtext (RFC 3461 §4): the wire form of the DSN parameters ENVID and ORCPT. The inbound side
 * stores them encoded, as the client sent them; the bounce stage decodes them.
 */

/** Encodes `value` as xtext: printable ASCII but "+" and "=" as is, every other byte as "+XX". */
export function encodeXtext(value: string): string {
  let out = "";
  for (const byte of new TextEncoder().encode(value)) {
    out += byte >= 0x21 && byte <= 0x7e && byte !== 0x2b && byte !== 0x3d
      ? String.fromCharCode(byte)
      : "+" + byte.toString(16).toUpperCase().padStart(2, "0");
  }
  return out;
}

/** Decodes xtext ("+2B" → "+"). */
export function decodeXtext(value: string): string {
  return value.replace(/\+([0-9A-Fa-f]{2})/g, (_, hex) => String.fromCharCode(parseInt(hex, 16)));
}
