/**
 * What each isolate loads at start-up (issue 19): every Web Worker and the main thread pay heap
 * and start-up CPU for each module they evaluate, so what is not on the per-message path is
 * `import()`ed when first needed. Pinned here on the static import graph (`deno info`): a
 * package listed for an entry point must not come back through a barrel (core/bounce had one
 * that loaded mailparser wherever it was imported: removed, its importers name the files).
 */
import { assert } from "./helpers/assert.ts";
import { fileURLToPath } from "node:url";
import { staticLoad } from "./helpers/import_graph.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** npm packages each entry point must not load before its code runs, and why. */
const LAZY: Record<string, Record<string, string>> = {
  "workers/smtp_worker.ts": {
    mailparser: "bounce reports are parsed on the first report (core/bounce/reports.ts)",
    re2js: "bounce classification loads with the first report (core/bounce/report_verdict.ts)",
    "smtp-server": "the own engine is the default; the npm one is import()ed " +
      "(core/inbound/smtp_server_lib.ts)",
    zod: "config arrives parsed from the main thread",
    amqplib: "the RabbitMQ queue is opened by import() (core/queue/mod.ts)",
    pg: "store drivers load by import() (core/store/mod.ts)",
    "kysely/migration": "migrations run on the main thread (core/store/schema_migrator.ts)",
    mysql2: "store drivers load by import() (core/store/mod.ts)",
    tedious: "store drivers load by import() (core/store/mod.ts)",
    hono: "the admin server runs on the main thread",
    preact: "the admin server runs on the main thread",
  },
  "workers/delivery_worker.ts": {
    mailparser: "bounce reports are parsed by the SMTP workers",
    zod: "config arrives parsed from the main thread",
    "smtp-server": "delivery takes no SMTP connections",
    "kysely/migration": "migrations run on the main thread (core/store/schema_migrator.ts)",
    amqplib: "the RabbitMQ queue is opened by import() (core/queue/mod.ts)",
    pg: "store drivers load by import() (core/store/mod.ts)",
    hono: "the admin server runs on the main thread",
  },
  "workers/inject_worker.ts": {
    mailparser: "the inject API takes no bounce reports",
    "smtp-server": "the inject worker takes no SMTP connections",
  },
  "routes/probes.ts": {
    zod: "probes and scrapes do not load the API's schemas (cli/serve_parts.ts)",
    "swagger-ui-dist": "probes and scrapes do not load the API reference",
    kysely: "probes and scrapes do not load the console's queries",
  },
  "core/bounce/unsubscribe.ts": {
    mailparser: "serve loads the one-click unsubscribe into the main isolate at start " +
      "(cli/serve_admin.ts); bounce reports are parsed elsewhere",
  },
  "main.ts": {
    mailparser: "bounce reports are parsed by the SMTP workers",
    "smtp-server": "SMTP runs in the SMTP workers",
    hono: "the admin server is import()ed by `serve` only",
    "playwright-core": "browser tests only",
    amqplib: "queue and events exchange open RabbitMQ by import() (distributed mode only)",
    "csv-parse": "suppression CSV import loads it by import() (core/manage/suppressions.ts)",
    "csv-stringify": "suppression CSV export loads it by import() (core/manage/suppressions.ts)",
  },
};

for (const [entry, packages] of Object.entries(LAZY)) {
  Deno.test(`${entry} does not load at start-up what it may import() later`, async () => {
    const load = await staticLoad(ROOT, entry);
    assert(load.files.size > 1, `${entry}: deno info found no imports`);
    const loaded = Object.keys(packages).filter((name) => load.npm.has(name)).map((name) =>
      `${name} (through ${load.npm.get(name)}; ${packages[name]})`
    );
    assert(loaded.length === 0, `${entry} loads statically: ${loaded.join(", ")}`);
  });
}

Deno.test("the static-load reader sees a package a worker needs at once", async () => {
  const load = await staticLoad(ROOT, "workers/smtp_worker.ts");
  assert(load.npm.has("punycode.js"), [...load.npm.keys()].join(", "));
  assert(load.npm.has("kysely"), [...load.npm.keys()].join(", "));
});
