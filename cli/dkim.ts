/**
 * `dkim`: manages DKIM signing keys. `generate DOMAIN SELECTOR` makes a key pair (RSA 2048 or
 * Ed25519), stores the private key sealed with the master key and prints the DNS TXT record to
 * publish; `list` shows the keys with their records; `remove DOMAIN SELECTOR` deletes one.
 * Running servers pick changes up within `dkim.refresh_interval`.
 */
import { addGeneratedKey, dnsRecordValue, zoneFileRecord } from "../core/dkim/mod.ts";
import { defineCommand, type OptionSpecs } from "./_command.ts";
import { withCurrentStore } from "./_database.ts";
import { UsageError } from "./_usage.ts";

/** The key options of `dkim generate` and `domain add|rotate`: one definition, so they agree. */
export const DKIM_KEY_OPTIONS = {
  algorithm: {
    type: "choice",
    value: "ALG",
    choices: ["rsa", "ed25519"],
    default: "rsa",
    description: "Key algorithm",
  },
  bits: {
    type: "integer",
    value: "N",
    min: 1024,
    max: 8192,
    default: 2048,
    description: "RSA key size",
  },
} as const satisfies OptionSpecs;

/** The `dkim` command. */
export const dkimCommand = defineCommand({
  name: "dkim",
  summary: "Manage DKIM keys",
  description:
    `Manages DKIM signing keys. Mail is signed with every key of its From domain (or the nearest
parent domain that has keys). "generate" prints the DNS TXT record to publish.`,
  options: {
    ...DKIM_KEY_OPTIONS,
    json: { type: "boolean", description: "Print JSON" },
  },
  subcommands: [
    {
      name: "generate",
      args: "DOMAIN SELECTOR",
      summary: "Make a key pair, store it and print the DNS TXT record to publish",
      options: ["algorithm", "bits", "json"],
    },
    { name: "list", summary: "List the keys with their DNS records", options: ["json"] },
    { name: "remove", args: "DOMAIN SELECTOR", summary: "Delete a key" },
  ],
  database: "current",
  epilog: `Private keys are stored in the database sealed (AES-256-GCM) with a master key read from
FASTMTA_DKIM_MASTER_KEY or dkim.master_key_file (default <data_dir>/dkim_master.key, created
with mode 0600 on first use). Keep that file private and back it up with the database.
Running servers pick changes up within dkim.refresh_interval.`,
  run: ({ configPath, action, args, values }) => dkim(configPath, [action!, ...args], values),
});

/** Options of the `dkim` command, as parsed. */
export interface DkimOptions {
  algorithm: "rsa" | "ed25519";
  bits: number;
  json: boolean;
}

const DOMAIN = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$/;
const SELECTOR = /^[a-z0-9]([a-z0-9_-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9_-]{0,61}[a-z0-9])?)*$/i;

function domainSelector(args: string[]): { domain: string; selector: string } {
  const domain = args[0].toLowerCase().replace(/\.$/, "");
  const selector = args[1];
  if (!DOMAIN.test(domain)) throw new UsageError(`Invalid domain "${args[0]}"`);
  if (!SELECTOR.test(selector)) throw new UsageError(`Invalid selector "${selector}"`);
  return { domain, selector };
}

/** Runs `dkim <generate|list|remove>`; returns the exit code. */
export async function dkim(
  configPath: string | null,
  args: string[],
  options: DkimOptions,
): Promise<number> {
  const [action, ...rest] = args;
  const target = action === "list" ? null : domainSelector(rest);
  const { algorithm, bits } = options;

  return await withCurrentStore(configPath, async (store, config) => {
    if (action === "generate") {
      const { domain, selector } = target!;
      const existing = await store.dkimKeys();
      if (existing.some((k) => k.domain === domain && k.selector === selector)) {
        console.error(`Key "${selector}._domainkey.${domain}" exists: remove it first`);
        return 1;
      }
      const key = await addGeneratedKey(store, config.dkim.masterKeyFile, {
        domain,
        selector,
        kind: algorithm,
        bits,
        createdAt: Date.now(),
      });
      const value = dnsRecordValue(key.algorithm, key.publicKey);
      if (options.json) {
        console.log(JSON.stringify({
          domain,
          selector,
          algorithm: key.algorithm,
          name: `${selector}._domainkey.${domain}`,
          value,
        }));
      } else {
        console.log(`Generated ${key.algorithm} key "${selector}" for ${domain}.`);
        console.log("Publish this DNS TXT record:\n");
        console.log(zoneFileRecord(domain, selector, value));
      }
      return 0;
    }
    if (action === "remove") {
      const { domain, selector } = target!;
      if (!await store.removeDkimKey(domain, selector)) {
        console.error(`No key "${selector}._domainkey.${domain}"`);
        return 1;
      }
      console.log(`Removed key "${selector}._domainkey.${domain}"`);
      return 0;
    }
    const keys = await store.dkimKeys();
    const rows = keys.map((k) => ({
      domain: k.domain,
      selector: k.selector,
      algorithm: k.algorithm,
      created: new Date(k.createdAt).toISOString(),
      name: `${k.selector}._domainkey.${k.domain}`,
      value: dnsRecordValue(k.algorithm, k.publicKey),
    }));
    if (options.json) {
      console.log(JSON.stringify(rows));
    } else if (rows.length === 0) {
      console.log("No DKIM keys.");
    } else {
      for (const r of rows) {
        console.log(`${r.domain}\t${r.selector}\t${r.algorithm}\t${r.created}`);
        console.log(`  ${zoneFileRecord(r.domain, r.selector, r.value)}`);
      }
    }
    return 0;
  });
}
