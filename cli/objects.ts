/**
 * The commands for configuration objects (`vmta`, `pool`, `listener`, `route`): one factory,
 * a thin face over core/manage. The CLI calls the core directly on the store, as every other
 * command does: it works with no server running and needs no API key on the host; the change is
 * announced on the broker when one is configured, and a running node without one picks it up
 * from its config version poll within a second.
 *
 * Input is `key=value` pairs (a value that parses as JSON is taken as JSON: `weight=2`,
 * `enabled=false`, `ips='["10.0.0.1"]'`) or one JSON object.
 */
import { type KindService, NotFoundError, type StoredObject } from "../core/manage/mod.ts";
import { type Command, defineCommand } from "./_command.ts";
import { cliActor, withManagement } from "./_manage.ts";
import { UsageError } from "./_usage.ts";

/** Parses `key=value …` or one JSON object into an object. */
export function parseInput(args: string[]): Record<string, unknown> {
  if (args.length === 1 && args[0].trim().startsWith("{")) {
    try {
      return JSON.parse(args[0]);
    } catch (error) {
      throw new UsageError(`Cannot parse JSON: ${(error as Error).message}`);
    }
  }
  const out: Record<string, unknown> = {};
  for (const arg of args) {
    const at = arg.indexOf("=");
    if (at < 1) throw new UsageError(`Expected key=value, got "${arg}"`);
    const raw = arg.slice(at + 1);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch { /* a bare string */ }
    out[arg.slice(0, at)] = value;
  }
  return out;
}

function print(object: StoredObject<unknown>, json: boolean) {
  if (json) console.log(JSON.stringify(object));
  else {console.log(
      `${object.kind} ${object.id} version ${object.version}: ${JSON.stringify(object.body)}`,
    );}
}

/** How one object command is described. */
export interface ObjectCommandSpec {
  name: string;
  kind: string;
  summary: string;
  description: string;
  /** An example of `add`. */
  example: string;
  /** With `enable ID` / `disable ID` (the body has `enabled`). */
  toggles?: boolean;
}

/** Makes the command for one kind. */
export function objectCommand(spec: ObjectCommandSpec): Command {
  const subcommands = [
    { name: "list", summary: `Print the ${spec.kind} objects`, options: ["json"] as const },
    { name: "show", args: "ID", summary: "Print one", options: ["json"] as const },
    { name: "add", args: "KEY=VALUE...", summary: `Create one, e.g. add ${spec.example}` },
    {
      name: "update",
      args: "ID KEY=VALUE...",
      summary: "Change the given fields (the others stay)",
      options: ["if-version"] as const,
    },
    { name: "remove", args: "ID", summary: "Delete one", options: ["if-version"] as const },
    ...(spec.toggles
      ? [
        { name: "enable", args: "ID", summary: "Set enabled=true" },
        { name: "disable", args: "ID", summary: "Set enabled=false (drains: in-flight mail ends)" },
      ]
      : []),
  ];
  return defineCommand({
    name: spec.name,
    summary: spec.summary,
    description: spec.description,
    options: {
      json: { type: "boolean", description: "Print JSON" },
      "if-version": {
        type: "integer",
        value: "N",
        min: 1,
        description: "Change only if the object is still at version N (else exit 1)",
      },
    },
    subcommands,
    defaultAction: "list",
    database: "current",
    run: ({ configPath, action, args, values }) =>
      withManagement(
        configPath,
        spec.kind,
        (management) =>
          runAction(management.service(spec.kind)!, action!, args, values as Values, management),
      ),
  });
}

type Values = { json: boolean; "if-version"?: number };

async function runAction(
  service: KindService<unknown>,
  action: string,
  args: string[],
  values: Values,
  management: { configVersion(): Promise<number> },
): Promise<number> {
  const actor = cliActor();
  const ifVersion = values["if-version"];
  const need = (n: number) => {
    if (args.length < n) throw new UsageError(n === 1 ? "Missing ID" : "Missing ID or fields");
  };
  const done = async (object: StoredObject<unknown> | null, what: string) => {
    if (object) print(object, values.json);
    console.error(`${what}; config version ${await management.configVersion()}`);
    return 0;
  };
  switch (action) {
    case "list": {
      let cursor: string | undefined;
      const all: StoredObject<unknown>[] = [];
      do {
        const page = await service.list({ cursor, limit: 1000 });
        all.push(...page.items);
        cursor = page.next_cursor;
      } while (cursor);
      if (values.json) console.log(JSON.stringify(all));
      else for (const o of all) print(o, false);
      return 0;
    }
    case "show": {
      need(1);
      const found = await service.get(args[0]);
      if (!found) throw new NotFoundError(service.kind, args[0]);
      print(found, values.json);
      return 0;
    }
    case "add":
      need(1);
      return done(await service.create(parseInput(args), actor), "created");
    case "update":
      need(2);
      return done(
        await service.update(args[0], parseInput(args.slice(1)), actor, {
          partial: true,
          ifVersion,
        }),
        "updated",
      );
    case "remove":
      need(1);
      await service.remove(args[0], actor, { ifVersion });
      return done(null, `removed ${service.kind} ${args[0]}`);
    case "enable":
    case "disable":
      need(1);
      return done(
        await service.update(args[0], { enabled: action === "enable" }, actor, {
          partial: true,
        }),
        `${action}d`,
      );
    default:
      throw new UsageError(`Unknown action "${action}"`);
  }
}
