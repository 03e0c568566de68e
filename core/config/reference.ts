/**
 * The configuration reference (docs/configuration.md), rendered from the schema's metadata so
 * it cannot drift from what the program accepts. `deno task docs` writes it;
 * tests/docs_reference_test.ts fails when the committed file differs.
 */
import { configSchema } from "./schema.ts";
import { describeSchema, type KeyDoc } from "./describe.ts";
import { ENV_OVERRIDES } from "./mod.ts";

const INTRO = `# Configuration reference

<!-- Generated from the schema (core/config/schema.ts and the *_schema.ts files beside it) by
\`deno task docs\` (core/config/reference.ts). Do not edit: change a key's .meta() and regenerate. -->

fastmta reads one JSON file, passed with \`--config FILE\` or \`FASTMTA_CONFIG\`. Without one it runs
on built-in defaults: SQLite under \`./data\`, SMTP on \`127.0.0.1:2525\`, the console on
\`http://127.0.0.1:8025/\`. Unknown keys are refused, so a typo stops the program at start (exit 2)
with the path of the key and what is wrong. The seed's \`app.json\` is accepted as is:

\`\`\`json
{
  "database": { "driver": "sqlite3", "connection": "data/fastmta.db" },
  "ip_addressess": [
    { "ip": "127.0.0.1", "hostname": "vmta1.localhost", "inbound": true, "outbound": true }
  ],
  "ports": [25, 465, 587],
  "rabbitmq": {
    "host": "rabbitmq-host",
    "port": 5672,
    "username": "u",
    "password": "p",
    "virtual_host": "",
    "exchange_name": ""
  }
}
\`\`\`

Values: durations are written \`"250ms"\`, \`"30s"\`, \`"5m"\`, \`"2h"\`, \`"3d"\` or as a number of seconds;
rates as a count per duration, \`"100/m"\`, \`"10/s"\`, \`"20/30s"\`; sizes in bytes.

**Live** says whether a running node applies a change without a restart. Changes are made
cluster-wide with \`fastmta config set KEY VALUE\` (stored in the database, see
[distributed mode](distributed.md#config-overrides-live)); the live keys apply on every node within
seconds, the others when a node (re)starts. Edits to the file itself always apply at the next start.
Node-local keys (\`id\`, \`name\`, \`data_dir\`, \`database\`, \`rabbitmq\`, \`ports\`, \`ip_addressess\`,
\`smtp.listen\`, \`admin.listen\`) cannot be overridden cluster-wide.
`;

function envTable(): string {
  const rows = Object.entries(ENV_OVERRIDES).map(([name, path]) => {
    const list = path === "smtp.listen" || path === "dns.servers" ? " (comma-separated)" : "";
    return `| \`${name}\` | \`${path}\`${list} |`;
  });
  return [
    "## Environment variables",
    "",
    "These override single values of the file:",
    "",
    "| variable | key |",
    "| --- | --- |",
    ...rows,
    "| `FASTMTA_CONFIG` | the file itself (as `--config`) |",
    "| `FASTMTA_DKIM_MASTER_KEY` | the DKIM master key, base64 of 32 bytes (instead of `dkim.master_key_file`) |",
    "",
  ].join("\n");
}

function cell(text: string): string {
  return text.replaceAll("|", "\\|");
}

function row(key: KeyDoc): string {
  const live = key.type === "object" ? "" : key.live ? "yes" : "no";
  const fallback = key.default === null ? "" : key.default === "required" ? "required" : "";
  const value = key.default !== null && key.default !== "required"
    ? `\`${cell(key.default)}\``
    : fallback;
  return `| \`${cell(key.path)}\` | ${cell(key.type)} | ${value} | ${live} | ${
    cell(key.description ?? "")
  } |`;
}

const HEADER = "| key | type | default | live | description |\n| --- | --- | --- | --- | --- |";

/** A section: a top-level object or map, with its own heading. */
function isSection(key: KeyDoc, keys: KeyDoc[]): boolean {
  return key.path === key.section && keys.some((k) => k.section === key.section && k !== key) &&
    !key.type.startsWith("list");
}

/** docs/configuration.md as Markdown. */
export function renderConfigReference(): string {
  const keys = describeSchema(configSchema);
  const parts = [INTRO];
  const topLevel = keys.filter((k) => {
    const top = keys.find((t) => t.path === k.section)!;
    return !isSection(top, keys);
  });
  parts.push("## Top level\n", HEADER, ...topLevel.map(row), "");
  for (const section of keys.filter((k) => isSection(k, keys))) {
    parts.push(`## \`${section.path}\`\n`);
    if (section.description) parts.push(`${section.description}\n`);
    const rows = keys.filter((k) => k.section === section.path && k !== section);
    if (section.type !== "object") rows.unshift(section);
    parts.push(HEADER, ...rows.map(row), "");
  }
  parts.push(envTable());
  return parts.join("\n");
}
