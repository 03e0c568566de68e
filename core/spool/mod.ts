/**
 * The body spool (`database.body_spool: "segments"`, SQLite only): message bytes written once
 * to append-only segment files (segments.ts), indexed by (segment, offset, size) in the store's
 * `messages` row, recovered at start and freed when settled (recovery.ts). With the default
 * `"database"`, and always in distributed mode, bodies stay in `messages.body`.
 */
export {
  OPEN_SUFFIX,
  SEALED_SUFFIX,
  SEGMENT_BYTES,
  SegmentWriter,
  type SpoolRef,
} from "./segments.ts";
export { KEEP_MS, readSegment, SegmentHandles, segmentHandles } from "./segment_reads.ts";
export {
  type FreeOptions,
  freeSegments,
  recoverSegments,
  type RecoveryResult,
  type SegmentIndex,
} from "./recovery.ts";

/** Where a database file's spool lives: a folder beside it, named after it. */
export function spoolDirFor(databasePath: string): string {
  return `${databasePath}-spool`;
}
