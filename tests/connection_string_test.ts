import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import {
  ConnectionStringError,
  type DatabaseConnection,
  describeConnection,
  type DriverName,
  type MssqlConnection,
  type MysqlConnection,
  parseConnectionString,
  type PostgresConnection,
  type SqliteConnection,
} from "../core/connection/mod.ts";
import { parseConfig } from "../core/config/mod.ts";

function parse<T extends DatabaseConnection>(driver: DriverName, text: string): T {
  return parseConnectionString(driver, text) as T;
}

/** The error's message for a string that must be rejected. */
function rejected(driver: DriverName, text: string): string {
  try {
    parseConnectionString(driver, text);
  } catch (error) {
    assert(error instanceof ConnectionStringError, `unexpected ${error}`);
    assertMatch(error.message, /^Cannot parse "database\.connection": /);
    return error.message;
  }
  throw new Error(`accepted: ${text}`);
}

// --- SQLite ---------------------------------------------------------------------------------

Deno.test("sqlite: a file path", () => {
  assertEquals(parseConnectionString("sqlite3", "data/fastmta.db"), {
    dialect: "sqlite3",
    path: "data/fastmta.db",
    ignored: [],
  });
  assertEquals(parseConnectionString("sqlite3", "  /var/lib/fastmta/q.db "), {
    dialect: "sqlite3",
    path: "/var/lib/fastmta/q.db",
    ignored: [],
  });
});

Deno.test("sqlite: a file: URI drops its query", () => {
  assertEquals(parseConnectionString("sqlite3", "file:test.db?cache=shared&_fk=1"), {
    dialect: "sqlite3",
    path: "test.db",
    ignored: ["cache", "_fk"],
  });
  assertEquals(
    parse<SqliteConnection>("sqlite3", "file:///tmp/my%20q.db").path,
    "/tmp/my q.db",
  );
});

Deno.test("sqlite: empty and in-memory are rejected", () => {
  assertMatch(rejected("sqlite3", ""), /empty connection string/);
  assertMatch(rejected("sqlite3", ":memory:"), /in-memory/);
  assertMatch(rejected("sqlite3", "file:x?mode=memory"), /in-memory/);
  assertMatch(rejected("sqlite3", "file:?cache=shared"), /missing file path/);
});

// --- PostgreSQL -----------------------------------------------------------------------------

Deno.test("postgres: the libpq key=value form from the seed", () => {
  const c = parse<PostgresConnection>(
    "postgres",
    "host=myhost port=6543 user=gorm dbname=gorm password=mypassword",
  );
  assertEquals(c, {
    dialect: "postgres",
    host: "myhost",
    port: 6543,
    socketDir: null,
    user: "gorm",
    password: "mypassword",
    database: "gorm",
    sslmode: null,
    connectTimeout: null,
    applicationName: null,
    params: {},
    ignored: [],
  });
});

Deno.test("postgres: key=value with quotes, spaces around =, sslmode and runtime params", () => {
  const c = parse<PostgresConnection>(
    "postgres",
    "host = db.local user=u password= 'two words' dbname=mail sslmode=disable " +
      "TimeZone=Asia/Shanghai connect_timeout=7 application_name=fastmta " +
      "options='-c search_path=mta -c statement_timeout=5000'",
  );
  assertEquals(c.host, "db.local");
  assertEquals(c.port, 5432);
  assertEquals(c.sslmode, "disable");
  assertEquals(c.connectTimeout, 7);
  assertEquals(c.applicationName, "fastmta");
  assertEquals(c.params, {
    TimeZone: "Asia/Shanghai",
    search_path: "mta",
    statement_timeout: "5000",
  });
  assertEquals(c.password, "two words");
});

Deno.test("postgres: a quoted password with escaped quotes and spaces", () => {
  const c = parse<PostgresConnection>(
    "postgres",
    "host=h user=u dbname=d password='p a\\'ss\\\\word'",
  );
  assertEquals(c.password, "p a'ss\\word");
});

Deno.test("postgres: a Unix socket directory as host", () => {
  const c = parse<PostgresConnection>("postgres", "host=/var/run/postgresql user=u dbname=d");
  assertEquals(c.socketDir, "/var/run/postgresql");
  assertEquals(c.port, 5432);
});

Deno.test("postgres: URLs", () => {
  const c = parse<PostgresConnection>(
    "postgres",
    "postgres://mta:p%40ss%3Aword@127.0.0.1:5433/queue?sslmode=require&search_path=s1&application_name=x",
  );
  assertEquals(
    [c.user, c.password, c.host, c.port, c.database, c.sslmode, c.applicationName],
    ["mta", "p@ss:word", "127.0.0.1", 5433, "queue", "require", "x"],
  );
  assertEquals(c.params, { search_path: "s1" });

  const d = parse<PostgresConnection>("postgres", "postgresql://postgres@[::1]/test");
  assertEquals([d.host, d.port, d.password, d.database], ["::1", 5432, null, "test"]);

  const e = parse<PostgresConnection>(
    "postgres",
    "postgres://u@/d?host=/tmp/pg&port=5444",
  );
  assertEquals([e.socketDir, e.port], ["/tmp/pg", 5444]);
});

Deno.test("postgres: malformed strings name the wrong part", () => {
  assertMatch(
    rejected("postgres", "host=myhost port=myport user=gorm dbname=gorm"),
    /port "myport" is not a number/,
  );
  assertMatch(rejected("postgres", "port=5432 user=gorm dbname=gorm"), /missing host$/);
  assertMatch(rejected("postgres", "host=h dbname=gorm"), /missing user$/);
  assertMatch(rejected("postgres", "host=h user=u"), /missing database name/);
  assertMatch(rejected("postgres", "host=h user=u dbname=d port=70000"), /out of range/);
  assertMatch(rejected("postgres", "host=h user=u dbname=d sslmode=maybe"), /"sslmode"/);
  assertMatch(rejected("postgres", "host=h user=u dbname"), /expected key=value, found "dbname"/);
  assertMatch(rejected("postgres", "host=h user=u password='open"), /unterminated.*"password"/);
  assertMatch(rejected("postgres", "host=h user=u dbname=d connect_timeout=5s"), /whole seconds/);
  assertMatch(rejected("postgres", "host=h user=u dbname=d options=search_path"), /"options"/);
  assertMatch(rejected("postgres", "just-a-word"), /key=value/);
  assertMatch(rejected("postgres", "postgres://u@:5432/d"), /missing host$/);
  assertMatch(rejected("postgres", "postgres://u@h:abc/d"), /port "abc" is not a number/);
  assertMatch(rejected("postgres", "postgres://u@h/"), /missing database name/);
  assertMatch(rejected("postgres", "postgres://h/d"), /missing user/);
  assertMatch(rejected("postgres", "postgres://u@h/d/e"), /contains "\/"/);
  assertMatch(rejected("postgres", "postgres://u:%zz@h/d"), /password has a malformed %-escape/);
  assertMatch(rejected("postgres", "host=a,b user=u dbname=d"), /multiple hosts/);
});

Deno.test("errors never repeat the password", () => {
  const message = rejected("postgres", "host=h port=x user=u dbname=d password=s3cret");
  assert(!message.includes("s3cret"));
  const mysql = rejected("mysql", "user:s3cret@tcp(h:99999)/d");
  assert(!mysql.includes("s3cret"));
  assertEquals(
    describeConnection(parseConnectionString("postgres", "postgres://u:s3cret@h/d")),
    "postgres u@h:5432/d",
  );
});

// --- MySQL / MariaDB ------------------------------------------------------------------------

Deno.test("mysql: the Go DSN form from the seed", () => {
  const c = parse<MysqlConnection>(
    "mysql",
    "user:password@(localhost)/dbname?charset=utf8&parseTime=True&loc=Local",
  );
  assertEquals(c, {
    dialect: "mysql",
    host: "localhost",
    port: 3306,
    socketPath: null,
    user: "user",
    password: "password",
    database: "dbname",
    charset: "utf8",
    timezone: "local",
    connectTimeoutMs: null,
    tls: false,
    ignored: [],
  });
});

Deno.test("mysql: Go DSN variants", () => {
  const tcp = parse<MysqlConnection>("mysql", "root@tcp(127.0.0.1:3307)/test?timeout=1m30s");
  assertEquals([tcp.user, tcp.password, tcp.host, tcp.port], ["root", "", "127.0.0.1", 3307]);
  assertEquals(tcp.connectTimeoutMs, 90_000);

  const at = parse<MysqlConnection>("mysql", "u:p@ss:w/rd@tcp([::1]:3306)/db");
  assertEquals([at.user, at.password, at.host], ["u", "p@ss:w/rd", "::1"]);

  const socket = parse<MysqlConnection>("mysql", "u@unix(/run/mysqld/mysqld.sock)/db?tls=false");
  assertEquals([socket.socketPath, socket.tls], ["/run/mysqld/mysqld.sock", false]);

  const defaults = parse<MysqlConnection>("mysql", "u@/db?charset=utf8mb4,utf8&loc=UTC&x=1");
  assertEquals([defaults.host, defaults.port, defaults.charset], ["127.0.0.1", 3306, "utf8mb4"]);
  assertEquals([defaults.timezone, defaults.ignored], ["Z", ["x"]]);

  const zone = parse<MysqlConnection>("mysql", "u@tcp(h)/db?loc=Europe%2FBerlin&tls=skip-verify");
  assertEquals([zone.port, zone.ignored, zone.tls], [3306, ["loc"], "skip-verify"]);
});

Deno.test("mysql: URLs", () => {
  const c = parse<MysqlConnection>(
    "mysql",
    "mysql://root:pa%2Fss@127.0.0.1:3306/test?charset=utf8mb4",
  );
  assertEquals([c.user, c.password, c.host, c.port, c.database, c.charset], [
    "root",
    "pa/ss",
    "127.0.0.1",
    3306,
    "test",
    "utf8mb4",
  ]);
  const m = parse<MysqlConnection>("mysql", "mariadb://mta@db/q");
  assertEquals([m.host, m.port, m.password], ["db", 3306, ""]);
  const s = parse<MysqlConnection>("mysql", "mysql://mta@/q?socket=/run/mysqld/mysqld.sock");
  assertEquals(s.socketPath, "/run/mysqld/mysqld.sock");
});

Deno.test("mysql: malformed strings name the wrong part", () => {
  assertMatch(rejected("mysql", "user:password@(localhost)"), /missing "\/dbname"/);
  assertMatch(rejected("mysql", "user:pw@tcp(localhost:port)/db"), /port "port" is not a number/);
  assertMatch(rejected("mysql", "user:pw@tcp(:3306)/db"), /missing its host/);
  assertMatch(rejected("mysql", "user:pw@udp(h)/db"), /protocol "udp" is not supported/);
  assertMatch(rejected("mysql", "user:pw@tcp(h/db"), /address part "tcp\(h" is malformed/);
  assertMatch(rejected("mysql", "user:pw@unix()/db"), /socket path/);
  assertMatch(rejected("mysql", "user:pw@tcp(h)/"), /missing database name/);
  assertMatch(rejected("mysql", ":pw@tcp(h)/db"), /missing user/);
  assertMatch(rejected("mysql", "u@tcp(h)/db?parseTime=yes"), /"parseTime" expects true or false/);
  assertMatch(rejected("mysql", "u@tcp(h)/db?timeout=5x"), /"timeout" expects a duration/);
  assertMatch(rejected("mysql", "u@tcp(h)/db?charset=utf8;drop"), /"charset"/);
  assertMatch(rejected("mysql", "u@tcp(h)/db?loc=+1"), /"loc"/);
  assertMatch(rejected("mysql", "mysql://u@/db"), /missing host/);
  assertMatch(rejected("mysql", "mysql://u@h:0/db"), /out of range/);
});

// --- MSSQL ----------------------------------------------------------------------------------

Deno.test("mssql: the sqlserver:// URL from the seed", () => {
  const c = parse<MssqlConnection>(
    "mssql",
    "sqlserver://username:password@localhost:1433?database=dbname",
  );
  assertEquals(c, {
    dialect: "mssql",
    host: "localhost",
    port: 1433,
    instanceName: null,
    user: "username",
    password: "password",
    database: "dbname",
    encrypt: true,
    trustServerCertificate: false,
    connectTimeoutMs: null,
    appName: null,
    ignored: [],
  });
});

Deno.test("mssql: instance names and options", () => {
  const c = parse<MssqlConnection>(
    "mssql",
    "sqlserver://sa:p%26w@db.local/SQLEXPRESS?database=mta&encrypt=disable" +
      "&TrustServerCertificate=true&connection+timeout=15&app+name=fastmta&log=63",
  );
  assertEquals([c.host, c.port, c.instanceName, c.password], [
    "db.local",
    null,
    "SQLEXPRESS",
    "p&w",
  ]);
  assertEquals([c.encrypt, c.trustServerCertificate, c.connectTimeoutMs, c.appName], [
    false,
    true,
    15_000,
    "fastmta",
  ]);
  assertEquals(c.ignored, ["log"]);
  const q = parse<MssqlConnection>(
    "mssql",
    "sqlserver://h?database=d&user+id=sa&password=x",
  );
  assertEquals([q.user, q.password, q.port], ["sa", "x", 1433]);
});

Deno.test("mssql: malformed strings name the wrong part", () => {
  assertMatch(rejected("mssql", "server=h;user id=sa"), /sqlserver:\/\//);
  assertMatch(rejected("mssql", "sqlserver://u:p@h:1433"), /missing database name/);
  assertMatch(rejected("mssql", "sqlserver://u:p@:1433?database=d"), /missing host/);
  assertMatch(rejected("mssql", "sqlserver://h:1433?database=d"), /missing user/);
  assertMatch(rejected("mssql", "sqlserver://u@h:14x3?database=d"), /port "14x3"/);
  assertMatch(rejected("mssql", "sqlserver://u@h?database=d&encrypt=perhaps"), /"encrypt"/);
  assertMatch(
    rejected("mssql", "sqlserver://u@h?database=d&connection+timeout=1m"),
    /"connection timeout" expects whole seconds/,
  );
});

// --- Through the configuration --------------------------------------------------------------

Deno.test("config: a malformed connection string is a configuration error", () => {
  let message = "";
  try {
    parseConfig({ database: { driver: "postgres", connection: "host=h port=p user=u dbname=d" } });
  } catch (error) {
    message = (error as Error).message;
    assertEquals((error as Error).name, "ConfigError");
  }
  assertMatch(message, /Cannot parse "database\.connection": port "p" is not a number/);
});

Deno.test("config: database.pool_size defaults to 10 and is validated", () => {
  assertEquals(parseConfig({}).database.poolSize, 10);
  assertEquals(parseConfig({ database: { pool_size: 3 } }).database.poolSize, 3);
  let message = "";
  try {
    parseConfig({ database: { pool_size: 0 } });
  } catch (error) {
    message = (error as Error).message;
  }
  assertMatch(message, /database\.pool_size/);
});
