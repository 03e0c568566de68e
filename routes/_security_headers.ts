/**
 * The headers every admin answer carries (routes/mod.ts and the probe app, routes/probes.ts).
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import type { AdminEnv } from "./_context.ts";

/** No caching, no framing, no sniffing, same-origin referrers and a strict CSP. */
export function securityHeaders(): MiddlewareHandler<AdminEnv> {
  return async function securityHeaders(c, next) {
    await next();
    // Pages and API answers hold queue contents and CSRF tokens: no cache keeps them. Static
    // assets set their own.
    if (!c.res.headers.has("Cache-Control")) c.header("Cache-Control", "no-store");
    c.header("X-Frame-Options", "DENY");
    c.header("X-Content-Type-Options", "nosniff");
    c.header("Referrer-Policy", "same-origin");
    c.header(
      "Content-Security-Policy",
      // data: images: the icons of the API reference page (Swagger UI's stylesheet); no script.
      "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
        "script-src 'self'; frame-ancestors 'none'",
    );
  };
}
