/**
 * `dkim`: manages DKIM signing keys. `generate DOMAIN SELECTOR` makes a key pair (RSA 2048 or
 * Ed25519), stores the private key sealed with the master key and prints the DNS TXT record to
 * publish; `list` shows the keys with their records; `remove DOMAIN SELECTOR` deletes one.
 * Running servers pick changes up within `dkim.refresh_interval`.
 */
import { loadConfig } from "../core/config/mod.ts";
import {
  dnsRecordValue,
  generateDkimKey,
  keyAad,
  MasterKey,
  zoneFileRecord,
} from "../core/dkim/mod.ts";
import { openStore } from "../core/store/mod.ts";
import { UsageError } from "./_usage.ts";

/** Options of the `dkim` command. */
export interface DkimOptions {
  algorithm?: string;
  bits?: string;
  json: boolean;
}

export { UsageError };

const DOMAIN = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$/;
const SELECTOR = /^[a-z0-9]([a-z0-9_-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9_-]{0,61}[a-z0-9])?)*$/i;

function domainSelector(args: string[]): { domain: string; selector: string } {
  if (args.length !== 2) throw new UsageError("Expected DOMAIN SELECTOR");
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
  if (action !== "generate" && action !== "list" && action !== "remove") {
    throw new UsageError(action ? `Unknown dkim action "${action}"` : "Missing dkim action");
  }
  const target = action === "list" ? null : domainSelector(rest);
  if (action === "list" && rest.length > 0) throw new UsageError("list takes no arguments");
  const algorithm = (options.algorithm ?? "rsa").toLowerCase();
  if (algorithm !== "rsa" && algorithm !== "ed25519") {
    throw new UsageError(`Invalid --algorithm "${options.algorithm}": expected rsa or ed25519`);
  }
  const bits = options.bits === undefined ? 2048 : Number(options.bits);
  if (!Number.isInteger(bits) || bits < 1024 || bits > 8192) {
    throw new UsageError(`Invalid --bits "${options.bits}": expected 1024 to 8192`);
  }

  const config = await loadConfig(configPath);
  const store = await openStore(config, "admin");
  try {
    await store.migrate();
    if (action === "generate") {
      const { domain, selector } = target!;
      const existing = await store.dkimKeys();
      if (existing.some((k) => k.domain === domain && k.selector === selector)) {
        console.error(`Key "${selector}._domainkey.${domain}" exists: remove it first`);
        return 1;
      }
      const master = await MasterKey.load(config.dkim.masterKeyFile, { create: true });
      const key = generateDkimKey(algorithm, bits);
      await store.addDkimKey({
        domain,
        selector,
        algorithm: key.algorithm,
        privateKey: master!.seal(key.privateKeyPem, keyAad(domain, selector)),
        publicKey: key.publicKey,
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
  } finally {
    await store.close();
  }
}
