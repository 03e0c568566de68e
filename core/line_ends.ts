/**
 * Line ends as they go on the wire: every line ends in CRLF (RFC 5321 §2.3.8). A bare LF and a
 * bare CR are each turned into CRLF, on every channel, by the one function the DKIM signer and the
 * SMTP client share, so the signature covers exactly the bytes the next hop receives.
 */

const CR = 0x0d;
const LF = 0x0a;

/** Whether the byte at `i` is a line end that is not part of a CRLF pair. */
function bareAt(body: Uint8Array, i: number): boolean {
  const b = body[i];
  if (b === LF) return i === 0 || body[i - 1] !== CR;
  if (b === CR) return i + 1 >= body.length || body[i + 1] !== LF;
  return false;
}

/** Whether every CR and LF of `body` is part of a CRLF pair. */
export function hasOnlyCrlf(body: Uint8Array): boolean {
  for (let i = body.indexOf(LF); i >= 0; i = body.indexOf(LF, i + 1)) {
    if (i === 0 || body[i - 1] !== CR) return false;
  }
  for (let i = body.indexOf(CR); i >= 0; i = body.indexOf(CR, i + 1)) {
    if (i + 1 >= body.length || body[i + 1] !== LF) return false;
  }
  return true;
}

/** `body` with every bare LF and bare CR turned into CRLF; the input itself when none. */
export function toCrlf(body: Uint8Array): Uint8Array {
  if (hasOnlyCrlf(body)) return body;
  let bare = 0;
  for (let i = 0; i < body.length; i++) if (bareAt(body, i)) bare++;
  const out = new Uint8Array(body.length + bare);
  let o = 0;
  for (let i = 0; i < body.length; i++) {
    const b = body[i];
    if (bareAt(body, i)) {
      out[o++] = CR;
      out[o++] = LF;
    } else {
      out[o++] = b;
    }
  }
  return out;
}
