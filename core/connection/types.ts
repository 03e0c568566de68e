/** Typed driver options parsed from `database.connection` (see connection_string.ts). */

/** Embedded SQLite: one file shared by every thread. */
export interface SqliteConnection {
  dialect: "sqlite3";
  path: string;
  /** Parameters given but not used (logged at start). */
  ignored: string[];
}

/** PostgreSQL over TCP or a Unix socket directory. */
export interface PostgresConnection {
  dialect: "postgres";
  host: string;
  port: number;
  /** Set when `host` is a directory (libpq's Unix socket convention). */
  socketDir: string | null;
  user: string;
  password: string | null;
  database: string;
  /** libpq `sslmode`; null means the driver default (no TLS). */
  sslmode: "disable" | "allow" | "prefer" | "require" | "verify-ca" | "verify-full" | null;
  /** Seconds; null means the default. */
  connectTimeout: number | null;
  applicationName: string | null;
  /**
   * Server settings sent at connection start (e.g. `search_path`, `TimeZone`): unknown keys, as
   * pgx (gorm's driver) treats them, plus libpq's `options=-c key=value`.
   */
  params: Record<string, string>;
  ignored: string[];
}

/** MySQL or MariaDB. */
export interface MysqlConnection {
  dialect: "mysql";
  host: string;
  port: number;
  socketPath: string | null;
  user: string;
  password: string;
  database: string;
  /** Character set for the connection (`SET NAMES`), e.g. `utf8mb4`; null: the driver's. */
  charset: string | null;
  /** How DATETIME values are read: `local`, `Z` or `±hh:mm`. fastmta stores epoch ms. */
  timezone: string | null;
  /** Milliseconds; null means the default. */
  connectTimeoutMs: number | null;
  /** TLS: false, true (verified) or "skip-verify". */
  tls: boolean | "skip-verify";
  ignored: string[];
}

/** Microsoft SQL Server. */
export interface MssqlConnection {
  dialect: "mssql";
  host: string;
  /** Null when an instance name is given (resolved by the SQL Browser service). */
  port: number | null;
  instanceName: string | null;
  user: string;
  password: string;
  database: string;
  encrypt: boolean;
  trustServerCertificate: boolean;
  /** Milliseconds; null means the default. */
  connectTimeoutMs: number | null;
  appName: string | null;
  ignored: string[];
}

/** Typed options for one database. */
export type DatabaseConnection =
  | SqliteConnection
  | PostgresConnection
  | MysqlConnection
  | MssqlConnection;

/** The driver names `database.driver` resolves to. */
export type DriverName = DatabaseConnection["dialect"];
