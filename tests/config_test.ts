import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { ConfigError, loadConfig, parseConfig } from "../core/config/mod.ts";

Deno.test("no file gives the embedded defaults", () => {
  const config = parseConfig({});
  assertEquals(config.database.driver, "sqlite3");
  assertMatch(config.database.connection, /data\/fastmta\.db$/);
  assertEquals(config.smtp.listeners, [{ host: "127.0.0.1", port: 2525, mode: "smtp" }]);
  assertEquals(config.admin, {
    host: "127.0.0.1",
    port: 8025,
    api_tokens: [],
    metrics_public: false,
    login: { max_failures: 5, max_failures_per_user: 10, failure_window: 300_000 },
    tls: null,
  });
});

Deno.test("the seed's app.json is accepted as is", () => {
  const config = parseConfig({
    database: { driver: "postgresql", connection: "host=db port=5432 user=u dbname=d" },
    ip_addressess: [
      { ip: "127.0.0.1", hostname: "vmta1.localhost", inbound: true, outbound: true },
    ],
    ports: [25, 467, 587],
    rabbitmq: {
      host: "rabbitmq-host",
      port: 5672,
      username: "username",
      password: "password",
      virtual_host: "",
      exchange_name: "",
    },
  });
  assertEquals(config.database.driver, "postgres");
  assertEquals(config.smtp.listeners.map((l) => l.port), [25, 467, 587]);
  assertEquals(config.vmtas, [{ ip: "127.0.0.1", hostname: "vmta1.localhost", group: "default" }]);
  assertEquals(config.smtp.hostname, "vmta1.localhost");
});

Deno.test("ip_addresses is accepted as a spelling of ip_addressess", () => {
  const config = parseConfig({
    ip_addresses: [{ ip: "127.0.0.10", hostname: "a.test", outbound: true, group_id: 2 }],
  });
  assertEquals(config.vmtas, [{ ip: "127.0.0.10", hostname: "a.test", group: "2" }]);
});

Deno.test("an invalid field is named with what is wrong", () => {
  const cases: [unknown, RegExp][] = [
    [{ database: { driver: "oracle" } }, /database\.driver: /],
    [{ smtp: { listen: ["localhost"] } }, /smtp\.listen\[0\]: Expected "host:port"/],
    [
      { delivery: { retry_schedule: ["soon"] } },
      /delivery\.retry_schedule\[0\]: Invalid duration "soon"/,
    ],
    [{ ports: [70000] }, /ports\[0\]: /],
    [{ smtpp: {} }, /smtpp/],
    [{ database: { driver: "mysql" } }, /database\.connection: required for driver "mysql"/],
    [
      { delivery: { shaping: { "gmail.com": { cluster_max_connections: 0 } } } },
      /delivery\.shaping\.gmail\.com\.cluster_max_connections: Must be at least 1/,
    ],
    [
      { delivery: { shaping: { "*": { cluster_max_connections: "5" } } } },
      /cluster_max_connections: Expected a whole number of connections or null/,
    ],
    [
      { delivery: { shaping: { "*": { cluster_message_rate: 600 } } } },
      /cluster_message_rate: Expected a rate such as "100\/m"/,
    ],
    [
      { delivery: { shaping: { "*": { cluster_message_rate: "1000/2d" } } } },
      /cluster_message_rate: The window of a cluster rate is at most one day/,
    ],
  ];
  for (const [raw, message] of cases) {
    let error: unknown;
    try {
      parseConfig(raw, "app.json");
    } catch (e) {
      error = e;
    }
    assert(error instanceof ConfigError, `expected a ConfigError for ${JSON.stringify(raw)}`);
    assertMatch((error as Error).message, message);
  }
});

Deno.test("environment variables override single values", async () => {
  const config = await loadConfig(null, {
    FASTMTA_SMTP_LISTEN: "127.0.0.5:2600,127.0.0.6:2601",
    FASTMTA_DATA_DIR: "/tmp/fastmta-env-test",
    FASTMTA_NODE_ID: "env-node",
    FASTMTA_DELIVERY_ISOLATE: "main",
  });
  assertEquals(config.smtp.listeners, [
    { host: "127.0.0.5", port: 2600, mode: "smtp" },
    { host: "127.0.0.6", port: 2601, mode: "smtp" },
  ]);
  assertEquals(config.dataDir, "/tmp/fastmta-env-test");
  assertEquals(config.nodeId, "env-node");
  assertEquals(config.delivery.isolate, "main");
});

Deno.test("smtp.isolate: worker by default, main from the environment, not with delivery in SMTP", async () => {
  assertEquals(parseConfig({}).smtp.isolate, "worker");
  const fromEnv = await loadConfig(null, { FASTMTA_SMTP_ISOLATE: "main" });
  assertEquals(fromEnv.smtp.isolate, "main");
  let error: unknown;
  try {
    parseConfig({ smtp: { isolate: "main" }, delivery: { isolate: "smtp" } });
  } catch (e) {
    error = e;
  }
  assert(error instanceof ConfigError, "expected a ConfigError");
  assertMatch(error.message, /smtp\.isolate: main cannot be combined with delivery\.isolate: smtp/);
});

Deno.test("serve exits with code 2 and names the field for a bad file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/app.json`;
    await Deno.writeTextFile(file, JSON.stringify({ smtp: { max_message_size: -1 } }));
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("../main.ts", import.meta.url).pathname,
        "serve",
        "--config",
        file,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(out.code, 2);
    assertMatch(new TextDecoder().decode(out.stderr), /smtp\.max_message_size: /);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
