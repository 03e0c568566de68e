/**
 * `fastmta tls-cert`: the managed TLS certificates (kind tls_certificate, docs/management.md).
 * `add NAME --cert FILE --key FILE` uploads a PEM chain and key (replacing one of that name with
 * `--replace`); listeners name it by `tls_certificate=NAME` and every node serves it within
 * seconds. The key is never printed: list and show give the subject, names and expiry.
 */
import { type KindService, NotFoundError } from "../core/manage/mod.ts";
import type { TlsCertificateBody } from "../core/manage/tls_certificate_kind.ts";
import { summarize } from "../core/manage/tls_certificate_kind.ts";
import type { StoredObject } from "../core/manage/types.ts";
import { defineCommand } from "./_command.ts";
import { withManagement } from "./_manage.ts";
import { UsageError } from "./_usage.ts";
import { cliActor } from "./_manage.ts";

async function readPem(path: string | undefined, option: string): Promise<string> {
  if (!path) throw new UsageError(`Missing --${option} FILE`);
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    throw new UsageError(`Cannot read --${option} "${path}": ${(error as Error).message}`);
  }
}

/** What is printed of one certificate: never the key. */
function shownOf(object: StoredObject<TlsCertificateBody>) {
  const summary = summarize(object.body.certificate);
  return {
    name: object.id,
    version: object.version,
    subject: summary?.subject,
    san: summary?.san,
    valid_to: summary ? new Date(summary.validTo).toISOString() : undefined,
    chain_length: summary?.chainLength,
    private_key: "set",
    updated_at: object.updated_at,
    updated_by: object.updated_by,
  };
}

function print(object: StoredObject<TlsCertificateBody>, json: boolean) {
  const shown = shownOf(object);
  if (json) console.log(JSON.stringify(shown));
  else {
    console.log(
      `${shown.name} version ${shown.version}: ${shown.subject ?? "?"} [${
        (shown.san ?? []).join(", ")
      }] valid to ${shown.valid_to ?? "?"}, key set`,
    );
  }
}

/** `tls-cert`. */
export const tlsCertCommand = defineCommand({
  name: "tls-cert",
  summary: "List, upload or remove the managed TLS certificates",
  description:
    `TLS certificates (PEM chain and private key) stored in the database and served by the
listeners that name them (fastmta listener add ... tls_certificate=NAME). Checked on upload: the
chain and key parse, the key belongs to the certificate, it has not expired. Every node writes it
to <data_dir>/tls/managed/ and rebinds those listeners within seconds; replacing it does the same.
The key is a secret: never printed, shown as "set".`,
  options: {
    cert: { type: "string", value: "FILE", description: "PEM certificate chain (add)" },
    key: { type: "string", value: "FILE", description: "PEM private key (add)" },
    replace: { type: "boolean", description: "Replace a certificate of that name (add)" },
    json: { type: "boolean", description: "Print JSON" },
  },
  subcommands: [
    { name: "list", summary: "Print the certificates (never the key)", options: ["json"] },
    { name: "show", args: "NAME", summary: "Print one", options: ["json"] },
    {
      name: "add",
      args: "NAME",
      summary: "Upload one: add NAME --cert chain.pem --key key.pem [--replace]",
      options: ["cert", "key", "replace", "json"],
    },
    { name: "remove", args: "NAME", summary: "Delete one" },
  ],
  defaultAction: "list",
  database: "current",
  run: ({ configPath, action, args, values }) =>
    withManagement(configPath, "tls_certificate", async (management) => {
      await runAction(management.objects.tls_certificate, action!, args, values);
      console.error(`config version ${await management.configVersion()}`);
      return 0;
    }),
});

async function runAction(
  service: KindService<TlsCertificateBody>,
  action: string,
  args: string[],
  values: { cert?: string; key?: string; replace: boolean; json: boolean },
): Promise<void> {
  const actor = cliActor();
  const name = () => {
    if (!args[0]) throw new UsageError("Missing NAME");
    return args[0];
  };
  switch (action) {
    case "list": {
      const page = await service.list({ limit: 1000 });
      if (values.json) console.log(JSON.stringify(page.items.map(shownOf)));
      else for (const o of page.items) print(o, false);
      return;
    }
    case "show": {
      const found = await service.get(name());
      if (!found) throw new NotFoundError(service.kind, name());
      return print(found, values.json);
    }
    case "add": {
      const body = {
        name: name(),
        certificate: await readPem(values.cert, "cert"),
        private_key: await readPem(values.key, "key"),
      };
      const existing = values.replace ? await service.get(body.name) : null;
      const stored = existing
        ? await service.update(body.name, body, actor)
        : await service.create(body, actor);
      return print(stored, values.json);
    }
    case "remove":
      await service.remove(name(), actor);
      console.error(`removed tls_certificate ${name()}`);
      return;
    default:
      throw new UsageError(`Unknown action "${action}"`);
  }
}
