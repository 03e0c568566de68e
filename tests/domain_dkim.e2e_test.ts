/**
 * Sending domains end to end: `domain add` prints DNS records whose DKIM TXT value verifies the
 * signature of a message the running server delivers (checked by mailauth's verifier against
 * exactly the printed records); `domain rotate` makes a new key that signs from then on, while
 * the retired key's record stays printed until `domain remove-key`.
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { verifyDkim } from "./helpers/dkim_verify.ts";
import { E2E_DOMAIN, startE2eFixture } from "./helpers/e2e_fixture.ts";
import { runCli } from "./helpers/server_process.ts";
import { waitUntil } from "./helpers/wait.ts";

interface Printed {
  name: string;
  records: { type: string; name: string; value: string; purpose: string }[];
}

Deno.test("domain: add prints records that verify delivered mail; rotate switches the signing key", async () => {
  await using e2e = await startE2eFixture({ prefix: "fastmta-domain-" });
  const config = {
    ...e2e.nodeConfig(),
    queue: { poll_interval: "200ms" },
  };
  const configPath = await e2e.writeConfig(config);
  await e2e.start(config, { waitForAdmin: false });
  const cli = async (args: string[], stdin?: string) => {
    const result = await runCli([...args, "--config", configPath], { stdin });
    assertEquals(result.code, 0, `${args.join(" ")}: ${result.stderr}`);
    return result.stdout.trim();
  };
  const txt = (printed: Printed) => (name: string) =>
    printed.records.find((r) => r.type === "TXT" && r.name === name)?.value;
  let sent = 0;
  /** Sends one message From the domain; resolves with it as the sink got it. */
  const deliverOne = async () => {
    sent++;
    await cli(
      ["send", "--from", "shop@origin.test", `rcpt${sent}@${E2E_DOMAIN}`],
      `From: Shop <shop@origin.test>\nSubject: n${sent}\n\nHello ${sent}.\n`,
    );
    const messages = await e2e.sink.waitForMessages(sent, 60_000);
    return messages.find((m) => m.rcptTo[0] === `rcpt${sent}@${E2E_DOMAIN}`)!;
  };

  const added: Printed = JSON.parse(
    await cli(["domain", "add", "origin.test", "--selector", "one", "--json"]),
  );
  assertEquals(added.records.map((r) => `${r.purpose} ${r.type} ${r.name}`), [
    "dkim TXT one._domainkey.origin.test",
    "spf TXT origin.test",
    "dmarc TXT _dmarc.origin.test",
  ]);
  assertEquals(added.records[1].value, "v=spf1 ip4:127.0.0.10 ~all");
  // The server loads the new key within dkim.refresh_interval (default 5 s): wait for it.
  const first = await waitUntil(async () => {
    const message = await deliverOne();
    return /^DKIM-Signature:/im.test(message.text()) ? message : null;
  }, { timeoutMs: 60_000, message: "a signed message" });
  assertEquals(await verifyDkim(first.data, txt(added)).then(summary), ["pass one"]);

  const rotated: Printed = JSON.parse(
    await cli(["domain", "rotate", "origin.test", "--selector", "two", "--json"]),
  );
  const dkimNames = (p: Printed) =>
    p.records.filter((r) => r.purpose === "dkim").map((r) => r.name);
  assertEquals(dkimNames(rotated), ["one._domainkey.origin.test", "two._domainkey.origin.test"]);
  const second = await waitUntil(async () => {
    const message = await deliverOne();
    return /\bs=two;/.test(message.text()) ? message : null;
  }, { timeoutMs: 60_000, message: "a message signed with the new key" });
  // Signed with the new key only: the retired one signs nothing.
  assertEquals(await verifyDkim(second.data, txt(rotated)).then(summary), ["pass two"]);

  await cli(["domain", "remove-key", "origin.test", "one"]);
  const after: Printed = JSON.parse(await cli(["domain", "dns", "origin.test", "--json"]));
  assertEquals(dkimNames(after), ["two._domainkey.origin.test"]);
  const listed = JSON.parse(await cli(["domain", "list", "--json"]));
  assertEquals(listed.map((d: { name: string; version: number }) => [d.name, d.version]), [
    ["origin.test", 3],
  ]);
  assert(e2e.sink.messages.length >= 2);
});

function summary(verdicts: { result: string; selector: string }[]): string[] {
  return verdicts.map((v) => `${v.result} ${v.selector}`);
}
