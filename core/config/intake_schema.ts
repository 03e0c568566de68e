/**
 * The `intake` section: bounds every inbound channel (SMTP, REST API, `fastmta send`, the inject
 * queue, the outbox) holds a message to at the door, beside `smtp.max_message_size`,
 * `smtp.max_recipients` and `smtp.max_header_size`. docs/intake_limits.md explains each; the
 * inbound code reads them at the moment of use, so every key applies without a restart.
 */
import { z } from "zod";

/**
 * Deepest nesting `intake.max_json_depth` may allow: structured clone (how units reach delivery
 * workers) recurses, and fails at a few thousand levels; 128 keeps it far from that.
 */
export const MAX_JSON_DEPTH_ALLOWED = 128;

export const intakeSection = z.object({
  max_json_depth: z.number().int().min(1).max(MAX_JSON_DEPTH_ALLOWED).default(32).meta({
    description: "Deepest nesting of objects and arrays in a message's `metadata` " +
      "(`{}` is 1 level); deeper is refused at the door",
    live: true,
  }),
  max_json_keys: z.number().int().min(1).max(1_000_000).default(1_000).meta({
    description: "Most object keys plus array elements in a message's `metadata`, counted " +
      "over the whole tree",
    live: true,
  }),
  max_string_size: z.number().int().min(16).default(4_096).meta({
    description: "Longest string (value or key) in a message's `metadata`, and longest " +
      "`pool` name, in UTF-8 bytes",
    live: true,
  }),
  max_metadata_size: z.number().int().min(2).default(16_384).meta({
    description: "Largest `metadata` of one message, in bytes written as JSON",
    live: true,
  }),
  max_header_fields: z.number().int().min(10).default(1_000).meta({
    description: "Most header fields in a message's header section (every channel; our own " +
      "Received and Message-ID not counted)",
    live: true,
  }),
  max_header_line_length: z.number().int().min(78).default(998).meta({
    description: "Longest line in a message's header section, in octets without CRLF " +
      "(RFC 5322 §2.1.1 makes 998 the hard limit)",
    live: true,
  }),
}).strict().prefault({}).meta({
  description:
    "Limits every inbound channel holds a message to at the door (docs/intake_limits.md).",
});

/** The resolved `intake` section. */
export type IntakeConfig = z.output<typeof intakeSection>;
