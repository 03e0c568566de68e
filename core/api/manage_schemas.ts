/**
 * Request and response schemas (zod) of the management plane's configuration objects: sending
 * domains with their DKIM keys and DNS records, suppression entries, SMTP users and API keys.
 * core/manage validates every input with these (so the REST API, the CLI and the console refuse
 * the same input with the same field names), the `api` routes mount them under /api/v1, and
 * the OpenAPI document is generated from them. JSON fields are snake_case. Imports only zod.
 */
import { z } from "zod";

const epochMs = z.number().int().nonnegative();

/** A DNS domain name: lower-cased, no trailing dot. */
export const DomainNameSchema = z.string().trim().toLowerCase().transform((s) =>
  s.replace(/\.$/, "")
)
  .pipe(
    z.string().regex(
      /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$/,
      "expected a domain name such as example.com",
    ),
  );

/** A DKIM selector (a DNS label, or several separated by dots). */
export const SelectorSchema = z.string().regex(
  /^[a-z0-9]([a-z0-9_-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9_-]{0,61}[a-z0-9])?)*$/i,
  "expected a DNS label such as s2026",
);

/** Which key to make. */
export const DkimKeyRequestSchema = z.strictObject({
  selector: SelectorSchema.optional(),
  algorithm: z.enum(["rsa", "ed25519"]).default("rsa"),
  bits: z.number().int().min(1024).max(8192).default(2048),
});
export type DkimKeyRequest = z.infer<typeof DkimKeyRequestSchema>;

/** `POST /api/v1/domains`. */
export const DomainCreateSchema = z.strictObject({
  name: DomainNameSchema,
  /** The envelope sender's (Return-Path) domain, when not `name`: gets the MX and SPF. */
  bounce_domain: DomainNameSchema.nullable().default(null),
  /** The first DKIM key (default: RSA 2048, selector from the date). */
  dkim: DkimKeyRequestSchema.prefault({}),
});
export type DomainCreate = z.infer<typeof DomainCreateSchema>;

/** `PATCH /api/v1/domains/{name}`. */
export const DomainUpdateSchema = z.strictObject({
  bounce_domain: DomainNameSchema.nullable(),
});
export type DomainUpdate = z.infer<typeof DomainUpdateSchema>;

/** `POST /api/v1/domains/{name}/rotate`: a new key signs from now on, the old ones retire. */
export const DomainRotateSchema = DkimKeyRequestSchema;

/** One DKIM key of a domain as shown (never the private key). */
export const DkimKeySchema = z.strictObject({
  selector: z.string(),
  algorithm: z.string(),
  created_at: epochMs,
  /** Set once rotated out: signs nothing, its record stays published until it is removed. */
  retired_at: epochMs.nullable(),
  dns_name: z.string(),
  dns_value: z.string(),
});

/** A sending domain. */
export const DomainSchema = z.strictObject({
  name: z.string(),
  bounce_domain: z.string().nullable(),
  version: z.number().int().positive(),
  created_at: epochMs,
  updated_at: epochMs,
  updated_by: z.string(),
  dkim_keys: z.array(DkimKeySchema),
});
export type DomainBody = z.infer<typeof DomainSchema>;

/** One DNS record to publish for a domain. */
export const DnsRecordSchema = z.strictObject({
  type: z.enum(["TXT", "MX"]),
  name: z.string(),
  value: z.string(),
  purpose: z.enum(["dkim", "spf", "dmarc", "bounce_mx"]),
  /** Why, or what to check before publishing (a suggestion, not a requirement). */
  note: z.string(),
});
export type DnsRecord = z.infer<typeof DnsRecordSchema>;

/** `GET /api/v1/domains/{name}/dns`. */
export const DnsRecordsSchema = z.strictObject({ records: z.array(DnsRecordSchema) });

/** Where a suppression came from. */
export const SuppressionSourceSchema = z.enum([
  "bounce",
  "complaint",
  "unsubscribe",
  "api",
  "cli",
  "import",
]);

/** An expiry: epoch milliseconds, an ISO 8601 date/time, or null / "" for never. */
export const ExpirySchema = z.union([
  epochMs,
  z.literal("").transform(() => null),
  z.iso.datetime({ offset: true }).or(z.iso.date()).transform((s) => Date.parse(s)),
  z.null(),
]);

/** An address as the suppression list keeps it: lower-cased user@domain. */
export const SuppressionAddressSchema = z.string().trim().toLowerCase().regex(
  /^[^\s<>()@,;:"]+@[^\s<>()@,;:"]+\.[^\s<>()@,;:"]+$/,
  "expected an address such as user@example.com",
);

/** `POST /api/v1/suppressions` (and one row of a CSV import). */
export const SuppressionCreateSchema = z.strictObject({
  address: SuppressionAddressSchema,
  /** "" (default): every sending domain; else the sending domain it applies to. */
  scope: z.literal("").or(DomainNameSchema).default(""),
  reason: z.string().max(1000).nullable().default(null),
  source: SuppressionSourceSchema.optional(),
  expires_at: ExpirySchema.default(null),
});
export type SuppressionCreate = z.infer<typeof SuppressionCreateSchema>;

/** A suppression entry. */
export const SuppressionSchema = z.strictObject({
  address: z.string(),
  scope: z.string(),
  category: z.string(),
  source: SuppressionSourceSchema,
  code: z.number().int().nullable(),
  reason: z.string().nullable(),
  message_id: z.string().nullable(),
  created_at: epochMs,
  expires_at: epochMs.nullable(),
  created_by: z.string().nullable(),
});
export type SuppressionBody = z.infer<typeof SuppressionSchema>;

/** The columns of the suppression CSV (export writes them in this order; import needs address). */
export const SUPPRESSION_CSV_COLUMNS = [
  "address",
  "scope",
  "source",
  "reason",
  "expires_at",
  "created_at",
] as const;

/** `POST /api/v1/smtp-users`. The password is hashed at once and never shown again. */
export const SmtpUserCreateSchema = z.strictObject({
  username: z.string().min(1).max(128),
  password: z.string().min(8).max(1024),
  max_messages_per_hour: z.number().int().positive().nullable().default(null),
  max_recipients_per_message: z.number().int().positive().nullable().default(null),
});
export type SmtpUserCreate = z.infer<typeof SmtpUserCreateSchema>;

/** An SMTP user as shown (no secret). */
export const SmtpUserSchema = z.strictObject({
  username: z.string(),
  created_at: epochMs,
  max_messages_per_hour: z.number().int().nullable(),
  max_recipients_per_message: z.number().int().nullable(),
});

/** `POST /api/v1/api-keys`. */
export const ApiKeyCreateSchema = z.strictObject({
  name: z.string().min(1).max(64),
});

/** An API key as listed (never the secret). */
export const ApiKeySchema = z.strictObject({
  name: z.string(),
  created_at: epochMs,
  last_used_at: epochMs.nullable(),
});

/** The answer to a create: the only time the key itself is shown. */
export const ApiKeyCreatedSchema = z.strictObject({
  name: z.string(),
  key: z.string(),
  created_at: epochMs,
});
