/**
 * The admin listener's hardening keys (issue 18): the login throttle and HTTPS. Kept apart from
 * schema.ts's `admin` section, which spreads them in, so the section stays short.
 */
import { z } from "zod";
import { duration } from "./delivery_schema.ts";

/** `admin.login`: failed console logins before the login is refused for a while. */
export const adminLoginSection = z.object({
  max_failures: z.number().int().min(1).default(5).meta({
    description: "Failed console logins per client address within `failure_window` before " +
      "logins from it are refused (429), the right password too (as `smtp.auth.max_failures`).",
    live: false,
  }),
  max_failures_per_user: z.number().int().min(1).default(10).meta({
    description: "Failed console logins per user name within `failure_window`, from any " +
      "address, before that user's logins are refused (429).",
    live: false,
  }),
  failure_window: duration.default(300_000).meta({
    description: "The window of `max_failures` and `max_failures_per_user`.",
    live: false,
  }),
}).strict().prefault({}).meta({ description: "The console login throttle." });

/** `admin.tls`: serve the console and the APIs over HTTPS. */
export const adminTlsSection = z.object({
  enabled: z.boolean().default(false).meta({
    description: "Serve the admin listener over HTTPS (cookies then carry `Secure`).",
    live: false,
  }),
  cert_file: z.string().optional().meta({
    description: "PEM certificate chain; with neither file set a self-signed pair is made in " +
      "`<data_dir>/tls/admin-self-signed.*`.",
    live: false,
  }),
  key_file: z.string().optional().meta({
    description: "PEM private key of `cert_file` (set both or neither).",
    live: false,
  }),
}).strict().prefault({}).meta({ description: "HTTPS for the console and the APIs." });
