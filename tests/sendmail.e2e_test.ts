/**
 * The sendmail face with real clients: PHP's mail() with sendmail_path on a `sendmail` symlink to
 * the ./fastmta launcher (`-t -i`, Bcc removed, `-f` as the envelope sender), bsd-mailx with
 * `set sendmail=` in its ~/.mailrc, recipients as arguments and a "." line ending the message
 * without `-i`; bad flags exit 64 (EX_USAGE) and queue nothing.
 */
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { E2E_DOMAIN, startE2eFixture } from "./helpers/e2e_fixture.ts";
import type { SinkMessage } from "./helpers/smtp_sink.ts";

const REPO = decodeURIComponent(new URL("../", import.meta.url).pathname).replace(/\/$/, "");

async function run(
  command: string,
  args: string[],
  options: { env: Record<string, string>; stdin?: string; cwd?: string },
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(command, {
    args,
    env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", ...options.env },
    cwd: options.cwd,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const out = await child.output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

/** A running server, a `sendmail` symlink to ./fastmta and the environment that finds both. */
async function setup() {
  const e2e = await startE2eFixture({ prefix: "fastmta-sendmail-" });
  const config = e2e.nodeConfig();
  const configPath = await e2e.writeConfig(config);
  await e2e.start(config, { waitForAdmin: false });
  const bin = `${e2e.dir}/bin`;
  await Deno.mkdir(bin);
  await Deno.symlink(`${REPO}/fastmta`, `${bin}/sendmail`);
  const env = {
    FASTMTA_CONFIG: configPath,
    PATH: `${bin}:${Deno.env.get("PATH") ?? ""}`,
    HOME: e2e.dir,
    LOGNAME: "tester",
  };
  return { e2e, sendmail: `${bin}/sendmail`, env, hostname: config.smtp!.hostname as string };
}

function headerOf(message: SinkMessage): string {
  return message.text().split("\r\n\r\n")[0];
}

Deno.test("sendmail: PHP mail() with -t -i sends to To and Bcc, removes Bcc, -f sets the sender", async () => {
  const { e2e, sendmail, env } = await setup();
  await using _ = e2e;
  const script = `$ok = mail("Ann <ann@${E2E_DOMAIN}>", "From PHP", "Line one\\n.\\nLine three\\n",
    "From: Shop <shop@origin.test>\\r\\nBcc: hidden@${E2E_DOMAIN}", "-fbounces@origin.test");
    exit($ok ? 0 : 3);`;
  const php = await run("php", ["-d", `sendmail_path=${sendmail} -t -i`, "-r", script], { env });
  assertEquals(php.code, 0, php.stdout + php.stderr);
  assertEquals(php.stdout, "", "sendmail prints nothing on success");
  const [message] = await e2e.sink.waitForMessages(1, 60_000);
  assertEquals(message.mailFrom, "bounces@origin.test");
  assertEquals(message.rcptTo.toSorted(), [`ann@${E2E_DOMAIN}`, `hidden@${E2E_DOMAIN}`]);
  const header = headerOf(message);
  assert(!/^bcc:/im.test(header), header);
  assertMatch(header, /^Subject: From PHP$/m);
  assertMatch(header, /^From: Shop <shop@origin.test>$/m);
  // -i: the "." line is part of the message (dot-stuffed on the wire, unstuffed by the sink).
  assertMatch(message.text(), /Line one\r\n\.\r\nLine three\r\n/);
});

Deno.test("sendmail: bsd-mailx through set sendmail= in ~/.mailrc", async () => {
  const { e2e, sendmail, env, hostname } = await setup();
  await using _ = e2e;
  await Deno.writeTextFile(`${e2e.dir}/.mailrc`, `set sendmail=${sendmail}\n`);
  const mailx = await run("bsd-mailx", ["-s", "From mailx", `bob@${E2E_DOMAIN}`], {
    env,
    stdin: "Hello from mailx.\n",
  });
  assertEquals(mailx.code, 0, mailx.stdout + mailx.stderr);
  const [message] = await e2e.sink.waitForMessages(1, 60_000);
  assertEquals(message.rcptTo, [`bob@${E2E_DOMAIN}`]);
  // No -f: the login name at smtp.hostname, as sendmail does.
  assertEquals(message.mailFrom, `tester@${hostname}`);
  assertMatch(headerOf(message), /^Subject: From mailx$/m);
  assertMatch(message.text(), /Hello from mailx\./);
});

Deno.test("sendmail: recipients as arguments, a '.' line ends the message without -i, -F names From", async () => {
  const { e2e, sendmail, env, hostname } = await setup();
  await using _ = e2e;
  const sent = await run(sendmail, ["-oem", "-odi", "-F", "Cron Daemon", `a@${E2E_DOMAIN}`], {
    env,
    stdin: "Subject: cron\n\nkept\n.\ndropped\n",
  });
  assertEquals(sent.code, 0, sent.stderr);
  const [message] = await e2e.sink.waitForMessages(1, 60_000);
  assertEquals(message.rcptTo, [`a@${E2E_DOMAIN}`]);
  assertMatch(headerOf(message), new RegExp(`^From: "Cron Daemon" <tester@${hostname}>$`, "m"));
  assertMatch(message.text(), /kept\r\n$/);
  assert(!message.text().includes("dropped"));

  // `fastmta send` takes the same: recipients as arguments, -t, -f.
  e2e.sink.clearMessages();
  const fastmta = await run(`${REPO}/fastmta`, ["send", "-t", "-f", "me@origin.test"], {
    env,
    stdin: `To: c@${E2E_DOMAIN}\nBcc: d@${E2E_DOMAIN}\nSubject: t\n\nbody\n`,
  });
  assertEquals(fastmta.code, 0, fastmta.stderr);
  assertMatch(fastmta.stdout.trim(), /^[0-9B-Z]{16}$/);
  const [second] = await e2e.sink.waitForMessages(1, 60_000);
  assertEquals(second.mailFrom, "me@origin.test");
  assertEquals(second.rcptTo.toSorted(), [`c@${E2E_DOMAIN}`, `d@${E2E_DOMAIN}`]);
  assert(!/^bcc:/im.test(headerOf(second)));
});

Deno.test("sendmail: unknown flags and missing recipients exit 64 (EX_USAGE)", async () => {
  const { e2e, sendmail, env } = await setup();
  await using _ = e2e;
  const unknown = await run(sendmail, ["-bs"], { env, stdin: "x\n" });
  assertEquals(unknown.code, 64);
  assertMatch(unknown.stderr, /Unknown flag "-bs"/);
  const none = await run(sendmail, ["-i"], { env, stdin: "Subject: x\n\ny\n" });
  assertEquals(none.code, 64);
  assertMatch(none.stderr, /No recipients/);
  const noAddress = await run(sendmail, ["-t", "-i"], { env, stdin: "Subject: x\n\ny\n" });
  assertEquals(noAddress.code, 65, "EX_DATAERR: -t, and the header names nobody");
  const badRecipient = await run(sendmail, ["not-an-address@"], { env, stdin: "x\n" });
  assertEquals(badRecipient.code, 65);
  assertEquals(e2e.sink.messages.length, 0);
});
