/**
 * `domain`: sending domains (core/manage/domains.ts). `add NAME` makes the first DKIM key (or
 * adopts the keys `fastmta dkim` made) and prints the DNS records to publish; `dns NAME`
 * prints them again; `rotate NAME` makes a new key that signs from then on and retires the
 * old ones (they stay published until `remove-key`); `remove NAME` drops the domain and keys.
 */
import type { DnsRecord } from "../core/api/manage_schemas.ts";
import { zoneFileLine } from "../core/manage/dns_records.ts";
import { DomainService } from "../core/manage/domains.ts";
import { defineCommand } from "./_command.ts";
import { DKIM_KEY_OPTIONS } from "./dkim.ts";
import { withCurrentStore } from "./_database.ts";
import { cliActor, withManageErrors } from "./_manage.ts";

/** The `domain` command. */
export const domainCommand = defineCommand({
  name: "domain",
  summary: "Manage sending domains, their DKIM keys and DNS records",
  description:
    `Sending domains: the domains mail is sent for. Each has DKIM keys (mail is signed with the
keys of its From domain) and a set of DNS records to publish: a DKIM TXT record per key, an SPF
suggestion covering this node's outbound IPs, a DMARC suggestion, and with --bounce-domain an MX
for the envelope sender's domain. Running servers pick key changes up within
dkim.refresh_interval.`,
  options: {
    "bounce-domain": {
      type: "string",
      value: "DOMAIN",
      description: "The envelope sender's (Return-Path) domain, when not NAME",
    },
    selector: { type: "string", value: "NAME", description: "DKIM selector (default s<date>)" },
    ...DKIM_KEY_OPTIONS,
    json: { type: "boolean", description: "Print JSON" },
  },
  subcommands: [
    { name: "list", summary: "List the sending domains and their keys", options: ["json"] },
    {
      name: "add",
      args: "NAME",
      summary: "Add a domain with a DKIM key; print the DNS records",
      options: ["bounce-domain", "selector", "algorithm", "bits", "json"],
    },
    { name: "dns", args: "NAME", summary: "Print the DNS records to publish", options: ["json"] },
    {
      name: "rotate",
      args: "NAME",
      summary: "Make a new signing key; the old ones retire (still published)",
      options: ["selector", "algorithm", "bits", "json"],
    },
    { name: "remove-key", args: "NAME SELECTOR", summary: "Remove one DKIM key of a domain" },
    { name: "remove", args: "NAME", summary: "Remove a domain and its DKIM keys" },
  ],
  database: "current",
  epilog: `Examples:
  fastmta domain add example.com --bounce-domain bounces.example.com
  fastmta domain dns example.com
  fastmta domain rotate example.com`,
  run: ({ configPath, action, args, values }) =>
    domain(configPath, action!, args, {
      bounceDomain: values["bounce-domain"],
      selector: values.selector,
      algorithm: values.algorithm,
      bits: values.bits,
      json: values.json,
    }),
});

interface DomainOptions {
  bounceDomain?: string;
  selector?: string;
  algorithm: string;
  bits: number;
  json: boolean;
}

/** Runs one `domain` action; returns the exit code. */
export async function domain(
  configPath: string | null,
  action: string,
  args: string[],
  options: DomainOptions,
): Promise<number> {
  return await withCurrentStore(configPath, async (store, config) => {
    const service = new DomainService({ store, config });
    const actor = cliActor();
    const key = {
      ...(options.selector ? { selector: options.selector } : {}),
      algorithm: options.algorithm,
      bits: options.bits,
    };
    return await withManageErrors(async () => {
      const [name] = args;
      switch (action) {
        case "add": {
          const created = await service.create(
            { name, bounce_domain: options.bounceDomain ?? null, dkim: key },
            actor,
          );
          return printRecords(created.id, await service.dns(created.id), options.json, "Added");
        }
        case "dns":
          return printRecords(name, await service.dns(name), options.json);
        case "rotate": {
          const rotation = await service.rotate(name, key, actor);
          if (!options.json) {
            console.log(
              `New key "${rotation.selector}" signs for ${rotation.domain.id}` +
                (rotation.retired.length ? `; retired: ${rotation.retired.join(", ")}` : ""),
            );
          }
          return printRecords(rotation.domain.id, await service.dns(name), options.json);
        }
        case "remove-key": {
          const updated = await service.removeKey(name, args[1], actor);
          console.log(`Removed key "${args[1]}._domainkey.${updated.id}"`);
          return 0;
        }
        case "remove":
          await service.remove(name, actor);
          console.log(`Removed sending domain "${name.toLowerCase()}" and its DKIM keys`);
          return 0;
        default: {
          const { items } = await service.list({ limit: 1000 });
          if (options.json) console.log(JSON.stringify(items.map((i) => i.body)));
          else if (items.length === 0) console.log("No sending domains.");
          for (const { body } of options.json ? [] : items) {
            console.log(
              `${body.name}\tv${body.version}\tbounce ${body.bounce_domain ?? "-"}\tkeys ${
                body.dkim_keys.map((k) => k.selector + (k.retired_at ? " (retired)" : "")).join(
                  ", ",
                ) || "-"
              }`,
            );
          }
          return 0;
        }
      }
    });
  });
}

function printRecords(name: string, records: DnsRecord[], json: boolean, verb?: string): number {
  if (json) {
    console.log(JSON.stringify({ name, records }));
    return 0;
  }
  if (verb) console.log(`${verb} sending domain ${name}.`);
  console.log("Publish these DNS records:\n");
  for (const record of records) {
    console.log(`; ${record.purpose}: ${record.note}`);
    console.log(zoneFileLine(record));
  }
  return 0;
}
