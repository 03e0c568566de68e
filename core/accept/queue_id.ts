/** Queue ids: time-ordered, unique without coordination, safe in file names and SMTP replies. */

const ALPHABET = "0123456789BCDFGHJKLMNPQRSTVWXYZ";

/** A 16-character id: 9 characters of milliseconds since the epoch, then 7 random ones. */
export function newQueueId(now = Date.now()): string {
  let time = "";
  let t = now;
  for (let i = 0; i < 9; i++) {
    time = ALPHABET[t % 31] + time;
    t = Math.floor(t / 31);
  }
  const random = crypto.getRandomValues(new Uint8Array(7));
  let tail = "";
  for (const byte of random) tail += ALPHABET[byte % 31];
  return time + tail;
}
