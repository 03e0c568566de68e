/**
 * The probe app (routes/probes.ts) answers `/healthz`, `/readyz` and `/metrics` as the full admin
 * app does: the same status, headers and (but for the metrics' moving values) body, with and
 * without credentials, for GET and HEAD; every other request goes to the full app.
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { tempDir } from "./helpers/net.ts";
import { ADMIN_TOKEN, adminFixture } from "./helpers/admin_fixture.ts";
import { adminApp } from "../routes/mod.ts";
import { isProbe, PROBE_PATHS, probeApp } from "../routes/probes.ts";

/** What must be equal: status, headers, and the body's shape. */
async function answer(response: Response, path: string) {
  const text = await response.text();
  const body = path === "/metrics" && response.status === 200
    ? text.split("\n").filter((l) => l.startsWith("# TYPE")).join("\n")
    : path === "/metrics"
    ? text
    : JSON.stringify(Object.keys(JSON.parse(text || "{}")));
  return { status: response.status, headers: [...response.headers.entries()], body };
}

Deno.test("probe app: /healthz, /readyz and /metrics answered as the admin app answers them", async () => {
  await using dir = tempDir();
  const fixture = await adminFixture(dir.path);
  const full = adminApp(fixture.context);
  const probes = probeApp(fixture.context);
  try {
    for (const path of PROBE_PATHS) {
      for (const method of ["GET", "HEAD"]) {
        for (const authorization of [undefined, `Bearer ${ADMIN_TOKEN}`, "Bearer wrong"]) {
          const init = { method, headers: authorization ? { authorization } : undefined };
          const want = await answer(await full.request(path, init), path);
          const got = await answer(await probes.request(path, init), path);
          assertEquals(got, want, `${method} ${path} ${authorization ?? "(no credentials)"}`);
        }
      }
    }
  } finally {
    await fixture.store.close();
  }
});

Deno.test("probe app: only GET and HEAD of the probe paths are probes", () => {
  const at = (path: string, method = "GET") =>
    isProbe(new Request(`http://127.0.0.1:8025${path}`, { method }));
  assert(at("/metrics") && at("/healthz", "HEAD") && at("/readyz?verbose=1"));
  assert(!at("/metrics", "POST") && !at("/metrics/") && !at("/api/v1/queue") && !at("/"));
});
