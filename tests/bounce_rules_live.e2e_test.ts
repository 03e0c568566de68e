/**
 * Bounce rules apply live (issue 14): a real server delivers to a real sink that refuses with
 * `550 5.7.1 custom text …` (built in: `policy`). A bounce rule made with the CLI while the server
 * runs maps that text to `spam_block`: once the node reports the new config version, the next
 * bounce's category (the `bounced` event in the accounting log) is the rule's. A bad regex over
 * REST is a 400 naming `pattern`; deleting the rule over REST gives the built-in category back.
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { E2E_DOMAIN, startE2eFixture } from "./helpers/e2e_fixture.ts";
import {
  adminApi,
  runCli,
  sendWithSwaks,
  type ServerProcess,
  TEST_API_TOKEN,
} from "./helpers/server_process.ts";
import { waitUntil } from "./helpers/wait.ts";
import type { FastmtaEvent } from "../core/contracts/events.ts";

const REFUSAL = "550 5.7.1 custom text from the provider";
const WAIT_MS = 60_000;

interface NodesBody {
  nodes: { details: { objects_version?: number } }[];
}

async function objectsVersion(server: ServerProcess): Promise<number> {
  const { body } = await adminApi<NodesBody>(server, "/api/v1/nodes");
  return body.nodes[0]?.details.objects_version ?? 0;
}

async function applied(server: ServerProcess, version: number) {
  await waitUntil(async () => await objectsVersion(server) >= version, {
    timeoutMs: 15_000,
    message: `config version ${version} applied`,
  });
}

function api(server: ServerProcess, method: string, path: string, body?: unknown) {
  return fetch(`${server.adminUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${TEST_API_TOKEN}`,
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
    },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
}

Deno.test("a bounce rule made while the server runs decides the next bounce's category", async () => {
  await using e2e = await startE2eFixture({
    prefix: "fastmta-bounce-rules-",
    sinkReply: ({ command }) => command === "RCPT" ? REFUSAL : undefined,
  });
  const config = e2e.nodeConfig();
  const accounting = `${e2e.dir}/accounting/events.jsonl`;
  config.queue = { poll_interval: "200ms" };
  config.events = { flush_interval: "50ms", accounting: { path: accounting } };
  const server = await e2e.start(config);
  let sent = 0;
  const bounceCategory = async () => {
    const rcpt = `rule${++sent}@${E2E_DOMAIN}`;
    const result = await sendWithSwaks({
      server: server.smtpAddress,
      from: "sender@origin.test",
      to: [rcpt],
      data: `From: <sender@origin.test>\r\nTo: <${rcpt}>\r\nSubject: rule ${sent}\r\n\r\nHi.\r\n`,
    });
    assert(result.queueId, result.stdout);
    const bounced = await waitUntil(async () => {
      const text = await Deno.readTextFile(accounting).catch(() => "");
      return text.trim().split("\n").filter((l) => l).map((l) => JSON.parse(l) as FastmtaEvent)
        .find((e) => e.type === "bounced" && e.message_id === result.queueId);
    }, { timeoutMs: WAIT_MS, message: `the bounced event of ${rcpt}` });
    assertEquals(bounced.recipient, rcpt);
    assertEquals(bounced.code, 550);
    return bounced.category;
  };
  try {
    assertEquals(await bounceCategory(), "policy"); // built in: 5.7.1

    const cli = await runCli([
      "bounce-rule",
      "add",
      "name=provider-custom",
      "pattern=custom\\s+TEXT",
      "code=550",
      "category=spam_block",
      "--config",
      server.configPath,
    ]);
    assertEquals(cli.code, 0, cli.stderr);
    const version = Number(/config version (\d+)/.exec(cli.stderr)?.[1]);
    assert(version > 0, cli.stderr);
    await applied(server, version);
    assertEquals(await bounceCategory(), "spam_block");

    // A pattern RE2 refuses is a 400 naming the field; nothing changes.
    const before = await objectsVersion(server);
    const bad = await api(server, "POST", "/api/v1/bounce-rules", {
      name: "bad",
      pattern: "(?<=x)custom",
      category: "spam_block",
    });
    assertEquals(bad.status, 400);
    const problem = await bad.json() as { errors?: { path: string; message: string }[] };
    assertEquals(problem.errors?.map((e) => e.path), ["pattern"], JSON.stringify(problem));
    assertEquals(await objectsVersion(server), before);

    const removed = await api(server, "DELETE", "/api/v1/bounce-rules/provider-custom");
    assertEquals(removed.status, 204, await removed.text());
    await applied(server, before + 1);
    assertEquals(await bounceCategory(), "policy");
  } catch (error) {
    e2e.dump();
    throw error;
  }
});
