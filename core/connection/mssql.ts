/** SQL Server connection strings: go-mssqldb's `sqlserver://` URL form. */
import { fail, parseBool, parsePort, splitUrl } from "./_parts.ts";
import type { MssqlConnection } from "./types.ts";

/** Parses `sqlserver://user:password@host:1433?database=dbname` (instance name as the path). */
export function parseMssqlUrl(text: string): MssqlConnection {
  if (!/^sqlserver:\/\//i.test(text)) {
    fail(`expected a URL like sqlserver://user:password@host:1433?database=dbname`);
  }
  const url = splitUrl(text);
  if (!url.host) fail("missing host");
  const instanceName = url.path.replace(/^\//, "") || null;
  if (instanceName?.includes("/")) fail(`instance name "${instanceName}" contains "/"`);
  let database = "";
  let encrypt = true;
  let trustServerCertificate = false;
  let connectTimeoutMs: number | null = null;
  let appName: string | null = null;
  let user = url.user ?? "";
  let password = url.password ?? "";
  const ignored: string[] = [];
  for (const [rawKey, value] of url.query) {
    const key = rawKey.toLowerCase();
    switch (key) {
      case "database":
        database = value;
        break;
      case "user id":
        user = value;
        break;
      case "password":
        password = value;
        break;
      case "encrypt":
        if (/^(disable|optional)$/i.test(value)) encrypt = false;
        else if (/^(strict|mandatory)$/i.test(value)) encrypt = true;
        else encrypt = parseBool(rawKey, value);
        break;
      case "trustservercertificate":
        trustServerCertificate = parseBool(rawKey, value);
        break;
      case "connection timeout":
      case "dial timeout":
        if (!/^\d+$/.test(value)) {
          fail(`parameter "${rawKey}" expects whole seconds, got "${value}"`);
        }
        connectTimeoutMs = Number(value) * 1000;
        break;
      case "app name":
        appName = value;
        break;
      default:
        ignored.push(rawKey);
    }
  }
  if (!user) fail("missing user");
  if (!database) fail(`missing database name (add "?database=dbname")`);
  return {
    dialect: "mssql",
    host: url.host,
    port: url.port !== null ? parsePort(url.port) : instanceName ? null : 1433,
    instanceName,
    user,
    password,
    database,
    encrypt,
    trustServerCertificate,
    connectTimeoutMs,
    appName,
    ignored,
  };
}
