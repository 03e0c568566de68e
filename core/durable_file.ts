/**
 * Writing a small file the node cannot do without (a key, a certificate) so that after a crash or
 * a file-system error it is either absent (made again) or complete, never empty or half-written:
 * a temporary file, fsync'd, then moved into place, and the folder fsync'd. Seen without it: an
 * ext4 error left the auth key and the self-signed certificate empty and the node refused to
 * start (tests/faults/readonly_running.e2e_test.ts).
 */
import {
  closeSync,
  fsyncSync,
  linkSync,
  openSync,
  renameSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { dirname } from "node:path";

/**
 * Writes `data` to `path` durably. `exclusive`: fails with EEXIST when `path` exists (by
 * link, so a file another process wrote a moment ago is never overwritten); else replaces it.
 */
export function writeFileDurably(
  path: string,
  data: string | Uint8Array,
  options: { mode: number; exclusive?: boolean },
): void {
  const temp = `${path}.${crypto.randomUUID()}.tmp`;
  const fd = openSync(temp, "wx", options.mode);
  try {
    writeSync(fd, typeof data === "string" ? new TextEncoder().encode(data) : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  if (options.exclusive) {
    try {
      linkSync(temp, path);
    } finally {
      unlinkSync(temp);
    }
  } else {
    renameSync(temp, path);
  }
  const dir = openSync(dirname(path), "r");
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}
