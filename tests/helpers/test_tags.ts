/**
 * What a test file needs, written in its name: `<name>.<tag>[.<tag>…]_test.ts`, e.g.
 * `store_contract.pg.mariadb_test.ts`. A file without tags needs nothing but this process and
 * loopback: `deno task test:unit` runs exactly those, with the services' ports and programs
 * denied (see {@link UNIT_DENY_FLAGS}), so a test filed as a unit test that reaches for a service
 * fails at once with "Requires net access to 127.0.0.1:5432" instead of passing on a machine
 * that happens to run it. `deno task test` runs every file.
 *
 * @module
 */

/** One tag: what it means, and what the unit run denies so that an untagged file cannot use it. */
export interface TestTag {
  /** What a file with this tag needs. */
  needs: string;
  /** Ports on loopback the unit run denies. */
  ports: number[];
  /** Programs the unit run may not start. */
  programs: string[];
}

/** The tags, in the order they are written in a file name. */
export const TEST_TAGS: Record<string, TestTag> = {
  rabbitmq: { needs: "RabbitMQ at 127.0.0.1:5672", ports: [5672], programs: ["rabbitmqctl"] },
  pg: { needs: "PostgreSQL at 127.0.0.1:5432", ports: [5432], programs: ["psql"] },
  mariadb: { needs: "MariaDB at 127.0.0.1:3306", ports: [3306], programs: ["mysql", "mariadb"] },
  chromium: { needs: "Chromium", ports: [], programs: ["chromium", "/usr/bin/chromium"] },
  // Not a service, but seconds per test on a busy machine: the unit run leaves them out.
  e2e: { needs: "fastmta itself as a child process (server or CLI)", ports: [], programs: [] },
};

/** The permission flags `deno task test:unit` adds to `-A` (deny flags take precedence). */
export const UNIT_DENY_FLAGS: readonly string[] = (() => {
  const tags = Object.values(TEST_TAGS);
  const net = tags.flatMap((t) => t.ports).flatMap((port) =>
    ["127.0.0.1", "localhost", "[::1]"].map((host) => `${host}:${port}`)
  );
  const programs = tags.flatMap((t) => t.programs);
  return [`--deny-net=${net.join(",")}`, `--deny-run=${programs.join(",")}`];
})();

/** Set (to "1") by `deno task test:unit`: the test helpers then start child processes denied too. */
export const UNIT_RUN_ENV = "FASTMTA_TEST_UNIT";

/** The deny flags for a `deno run` child of this test process (none outside the unit run). */
export function childDenyFlags(): string[] {
  return Deno.env.get(UNIT_RUN_ENV) === "1" ? [...UNIT_DENY_FLAGS] : [];
}

/**
 * The tags of a test file name (`cluster.rabbitmq.pg.e2e_test.ts` → rabbitmq, pg, e2e);
 * throws naming an unknown tag.
 */
export function tagsOf(fileName: string): string[] {
  const match = fileName.match(/^[^.]+((?:\.[^.]+)*)_test\.tsx?$/);
  if (!match) throw new Error(`not a test file name: ${fileName}`);
  const tags = match[1].split(".").filter(Boolean);
  for (const tag of tags) {
    if (!(tag in TEST_TAGS)) {
      throw new Error(
        `${fileName}: unknown test tag "${tag}" (known: ${Object.keys(TEST_TAGS).join(", ")})`,
      );
    }
  }
  return tags;
}
