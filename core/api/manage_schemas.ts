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
  // The rules of core/auth/users.ts, so every face refuses the same names and passwords.
  username: z.string().max(255).regex(
    // deno-lint-ignore no-control-regex
    /^[^\s\x00-\x1f\x7f]+$/,
    "expected 1-255 characters, no spaces",
  ),
  password: z.string().min(1, "empty").max(1024)
    // deno-lint-ignore no-control-regex
    .regex(/^[^\x00\r\n]*$/, "NUL and line breaks are not allowed"),
  /** null: smtp.max_recipients. */
  max_recipients: z.number().int().positive().nullable().default(null),
  /** null: the configured default. */
  max_messages_per_minute: z.number().int().positive().nullable().default(null),
});
export type SmtpUserCreate = z.infer<typeof SmtpUserCreateSchema>;

/** `PATCH /api/v1/smtp-users/{username}`: a new password and/or limits. */
export const SmtpUserUpdateSchema = z.strictObject({
  username: z.string().optional(),
  password: z.string().min(1, "empty").max(1024)
    // deno-lint-ignore no-control-regex
    .regex(/^[^\x00\r\n]*$/, "NUL and line breaks are not allowed").optional(),
  max_recipients: z.number().int().positive().nullable().optional(),
  max_messages_per_minute: z.number().int().positive().nullable().optional(),
});

/** An SMTP user as shown (never the password nor its hash). */
export const SmtpUserSchema = z.strictObject({
  username: z.string(),
  created_at: epochMs,
  updated_at: epochMs,
  max_recipients: z.number().int().nullable(),
  max_messages_per_minute: z.number().int().nullable(),
});
export type SmtpUserBody = z.infer<typeof SmtpUserSchema>;

/** `POST /api/v1/api-keys`. */
export const ApiKeyCreateSchema = z.strictObject({
  name: z.string().regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/,
    "expected 1-64 letters, digits, . _ -, starting with a letter or digit",
  ),
  role: z.enum(["admin", "operator", "viewer", "sender"]).default("sender"),
});

/** An API key as listed; `key` is there only in the answer to its creation (shown once). */
export const ApiKeySchema = z.strictObject({
  name: z.string(),
  role: z.string(),
  created_at: epochMs,
  last_used_at: epochMs.nullable(),
  key: z.string().optional(),
});
export type ApiKeyBody = z.infer<typeof ApiKeySchema>;

/** A console user to add (the rules of core/auth/admin.ts). */
export const ConsoleUserSchema = z.strictObject({
  username: z.string().regex(/^[A-Za-z0-9._@-]{1,64}$/, "use letters, digits and . _ @ - (max 64)"),
  password: z.string().min(8, "use at least 8 characters").max(1024),
  role: z.enum(["admin", "operator", "viewer"]).default("admin"),
});

/** A console user as the API shows it: the password is write-only, never shown. */
export const ConsoleUserShownSchema = z.strictObject({
  username: z.string(),
  role: z.enum(["admin", "operator", "viewer"]),
});
