/**
 * SMTP inbound conformance against the real server (a subprocess with two SMTP workers sharing
 * the listeners): listener modes, STARTTLS and implicit TLS, AUTH PLAIN/LOGIN/CRAM-MD5 with
 * swaks and Python smtplib, relay policy, SIZE, DSN parameters, null sender, trace headers.
 */
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { parseQueueId, sendWithSwaks, type SwaksResult } from "./helpers/smtp_client.ts";
import { smtplibSession, startSmtpFixture, testMessage } from "./helpers/smtp_fixture.ts";
import { RawSmtp } from "./helpers/smtp_raw.ts";

const USER = { name: "alice@example.test", password: "correct horse 42" };

/** The queue id from swaks' transcript, inside TLS ("<~") too. */
function queueIdOf(r: SwaksResult): string {
  for (const line of r.stdout.split("\n").reverse()) {
    if (/^<[-~]\s+250 /.test(line)) {
      const id = parseQueueId(line);
      if (id) return id;
    }
  }
  throw new Error(`no queue id in:\n${r.stdout}\n${r.stderr}`);
}

function swaksAuth(mechanism: string): string[] {
  return ["--auth", mechanism, "--auth-user", USER.name, "--auth-password", USER.password];
}

Deno.test("SMTP inbound: modes, TLS, AUTH, relay policy, ESMTP extensions", async (t) => {
  await using fx = await startSmtpFixture({
    users: [
      { name: USER.name, password: USER.password },
      {
        name: "limited",
        password: "limited-pw",
        args: ["--max-recipients", "1", "--max-messages-per-minute", "1"],
      },
    ],
  });
  const { smtp, submission, smtps } = fx.ports;

  await t.step(
    "port 25 mode offers STARTTLS and the ESMTP extensions, AUTH only after TLS",
    async () => {
      const r = await smtplibSession({ port: smtp, starttls: true });
      assert(!r.error, r.error);
      const before = r.featuresBeforeTls!;
      for (
        const k of ["pipelining", "8bitmime", "smtputf8", "enhancedstatuscodes", "dsn", "starttls"]
      ) {
        assert(k in before, `EHLO before TLS lacks ${k}: ${JSON.stringify(before)}`);
      }
      assertEquals(before.size, "20000");
      assert(!("auth" in before), "AUTH must not be offered before TLS");
      assertEquals(r.features.auth.trim(), "PLAIN LOGIN CRAM-MD5");
      assert(!("starttls" in r.features), "STARTTLS is not offered again inside TLS");
    },
  );

  await t.step("AUTH before TLS is refused; submission wants STARTTLS before MAIL", async () => {
    const c = await RawSmtp.connect("127.0.0.1", submission);
    try {
      assertEquals((await c.read()).code, 220);
      assertEquals((await c.command("EHLO client.test")).code, 250);
      const auth = await c.command("AUTH PLAIN " + btoa(`\0${USER.name}\0${USER.password}`));
      assert(auth.code >= 500, `AUTH before TLS answered ${auth.code} ${auth.text}`);
      const mail = await c.command("MAIL FROM:<a@x.test>");
      assertEquals(mail.code, 530);
      assertMatch(mail.text, /^5\.7\.0 Must issue a STARTTLS command first/);
    } finally {
      await c.close();
    }
  });

  await t.step("submission: STARTTLS + AUTH PLAIN and LOGIN with swaks", async () => {
    for (const mechanism of ["PLAIN", "LOGIN"]) {
      const r = await sendWithSwaks({
        server: `127.0.0.1:${submission}`,
        from: "alice@example.test",
        to: ["bob@remote.test"],
        data: testMessage(`auth ${mechanism}`),
        extraArgs: ["--tls", ...swaksAuth(mechanism)],
      });
      assertEquals(r.code, 0, r.stdout + r.stderr);
      const m = fx.message(queueIdOf(r))!;
      assertEquals(m.meta.auth, USER.name);
      assertMatch(m.body, /with ESMTPSA id /);
      assertMatch(m.body, /\(using TLSv1\.[23] with cipher /);
    }
  });

  await t.step("submission: AUTH is required before MAIL", async () => {
    const r = await smtplibSession({
      port: submission,
      starttls: true,
      from: "alice@example.test",
      rcpts: [{ to: "bob@remote.test" }],
    });
    assertEquals(r.mail?.code, 530);
    assertMatch(r.mail!.text, /Authentication required/);
  });

  await t.step("CRAM-MD5 with Python smtplib", async () => {
    const r = await smtplibSession({
      port: submission,
      starttls: true,
      login: { user: USER.name, password: USER.password, mechanism: "CRAM-MD5" },
      from: "alice@example.test",
      rcpts: [{ to: "bob@remote.test" }],
      data: testMessage("cram"),
    });
    assertEquals(r.login?.code, 235, JSON.stringify(r));
    assertEquals(r.data?.code, 250, JSON.stringify(r));
    const wrong = await smtplibSession({
      port: submission,
      starttls: true,
      login: { user: USER.name, password: "wrong", mechanism: "CRAM-MD5" },
    });
    assertEquals(wrong.login?.code, 535, JSON.stringify(wrong));
  });

  await t.step(
    "per-user limits: recipients per message (452), messages per minute (421)",
    async () => {
      const session = () =>
        smtplibSession({
          port: submission,
          starttls: true,
          login: { user: "limited", password: "limited-pw" },
          from: "limited@example.test",
          rcpts: [{ to: "b@remote.test" }, { to: "c@remote.test" }],
          data: testMessage("limited"),
        });
      const first = await session();
      assertEquals(first.rcpt?.map((r) => r.code), [250, 452], JSON.stringify(first));
      assertMatch(first.rcpt![1].text, /too many recipients for user "limited" \(limit 1 per/);
      assertEquals(first.data?.code, 250);
      const second = await session();
      assertEquals(second.mail?.code, 421, JSON.stringify(second));
      assertMatch(second.mail!.text, /too many messages from user "limited": limit 1 per minute/);
    },
  );

  await t.step("smtps: implicit TLS + AUTH with swaks --tlsc", async () => {
    const r = await sendWithSwaks({
      server: `127.0.0.1:${smtps}`,
      from: "alice@example.test",
      to: ["bob@remote.test"],
      data: testMessage("smtps"),
      extraArgs: ["--tlsc", ...swaksAuth("PLAIN")],
    });
    assertEquals(r.code, 0, r.stdout + r.stderr);
    assertMatch(fx.message(queueIdOf(r))!.body, /with ESMTPSA id /);
  });

  await t.step("openssl s_client sees the self-signed certificate for the host name", async () => {
    const out = await new Deno.Command("openssl", {
      args: ["s_client", "-connect", `127.0.0.1:${smtps}`, "-brief"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const w = out.stdin.getWriter();
    await w.write(new TextEncoder().encode("QUIT\r\n"));
    await w.close();
    const res = await out.output();
    const text = new TextDecoder().decode(res.stdout) + new TextDecoder().decode(res.stderr);
    assertMatch(text, /CN ?= ?mx\.fastmta\.test/);
    assertMatch(text, /Signature type: ECDSA/);
  });

  await t.step(
    "relay: denied from outside relay_networks, allowed to local domains and after AUTH",
    async () => {
      const outsider = "127.0.0.66";
      const denied = await smtplibSession({
        port: smtp,
        localAddress: outsider,
        from: "a@x.test",
        rcpts: [{ to: "b@remote.test" }, { to: "postmaster@local.test" }],
        data: testMessage("relay"),
      });
      assertEquals(denied.rcpt?.[0].code, 554, JSON.stringify(denied));
      assertMatch(denied.rcpt![0].text, /^5\.7\.1 <b@remote\.test>: Relay access denied/);
      assertEquals(denied.rcpt?.[1].code, 250);
      assertEquals(denied.data?.code, 250);

      const authed = await smtplibSession({
        port: smtp,
        localAddress: outsider,
        starttls: true,
        login: { user: USER.name, password: USER.password },
        from: "a@x.test",
        rcpts: [{ to: "b@remote.test" }],
        data: testMessage("relay auth"),
      });
      assertEquals(authed.rcpt?.[0].code, 250, JSON.stringify(authed));

      const inside = await smtplibSession({
        port: smtp,
        from: "a@x.test",
        rcpts: [{ to: "b@remote.test" }],
      });
      assertEquals(inside.rcpt?.[0].code, 250, JSON.stringify(inside));
    },
  );

  await t.step("SIZE: too big at MAIL FROM and at DATA", async () => {
    const declared = await smtplibSession({
      port: smtp,
      from: "a@x.test",
      mailOptions: ["SIZE=20001"],
      rcpts: [{ to: "b@remote.test" }],
    });
    assertEquals(declared.mail?.code, 552, JSON.stringify(declared));
    assertMatch(declared.mail!.text, /^5\.3\.4 /);

    const actual = await smtplibSession({
      port: smtp,
      from: "a@x.test",
      mailOptions: ["SIZE=1000"],
      rcpts: [{ to: "b@remote.test" }],
      data: testMessage("big", "", ("y".repeat(78) + "\r\n").repeat(300)),
    });
    assertEquals(actual.data?.code, 552, JSON.stringify(actual));
    assertMatch(actual.data!.text, /^5\.3\.4 .*maximum message size/);
  });

  await t.step("DSN parameters, 8BITMIME and SMTPUTF8 are stored in meta", async () => {
    const r = await smtplibSession({
      port: smtp,
      from: "a@x.test",
      mailOptions: ["RET=HDRS", "ENVID=env+2Bid42", "BODY=8BITMIME", "SMTPUTF8"],
      rcpts: [
        {
          to: "b@remote.test",
          options: ["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;orig@remote.test"],
        },
        { to: "c@remote.test" },
      ],
      data: testMessage("dsn"),
    });
    assertEquals(r.data?.code, 250, JSON.stringify(r));
    const id = /queued as (\S+)/.exec(r.data!.text)![1];
    const meta = fx.message(id)!.meta;
    assertEquals(meta.dsn, {
      ret: "HDRS",
      envid: "env+2Bid42", // xtext, as sent
      rcpt: {
        "b@remote.test": { notify: ["SUCCESS", "FAILURE"], orcpt: "rfc822;orig@remote.test" },
      },
    });
    assertEquals(meta.body, "8BITMIME");
    assertEquals(meta.smtputf8, true);
  });

  await t.step("null sender; Received and Message-ID headers", async () => {
    const r = await sendWithSwaks({
      server: `127.0.0.1:${smtp}`,
      from: "",
      to: ["b@remote.test"],
      helo: "client.example",
      data: testMessage("bounce"),
    });
    assertEquals(r.code, 0, r.stdout);
    const m = fx.message(r.queueId!)!;
    assertEquals(m.sender, "");
    const lines = m.body.split("\r\n");
    assertMatch(lines[0], /^Received: from client\.example \(unknown \[127\.0\.0\.1\]\)$/);
    assertEquals(lines[1], `\tby mx.fastmta.test (fastmta) with ESMTP id ${r.queueId}`);
    assertEquals(lines[2], "\tfor <b@remote.test>;");
    assertMatch(lines[3], /^\t\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} \+0000$/);
    assertEquals(lines[4], `Message-ID: <${r.queueId}@mx.fastmta.test>`);
    assertEquals(lines[5], "From: a@x.test");

    const withId = await sendWithSwaks({
      server: `127.0.0.1:${smtp}`,
      from: "a@x.test",
      to: ["b@remote.test", "c@remote.test"],
      data: testMessage("has id", "Message-ID: <own@x.test>\r\n"),
    });
    const body = fx.message(withId.queueId!)!.body;
    assertEquals(body.match(/^Message-ID:/gim)?.length, 1);
    assert(!/\tfor </.test(body), "no 'for' clause with several recipients");
  });

  await t.step("PIPELINING: a whole transaction in one write", async () => {
    const c = await RawSmtp.connect("127.0.0.1", smtp);
    try {
      assertEquals((await c.read()).code, 220);
      assertEquals((await c.command("EHLO client.test")).code, 250);
      c.write(
        "MAIL FROM:<a@x.test>\r\nRCPT TO:<b@remote.test>\r\nRCPT TO:<c@remote.test>\r\nDATA\r\n",
      );
      for (const code of [250, 250, 250, 354]) assertEquals((await c.read()).code, code);
      const done = await c.command(testMessage("pipelined") + ".");
      assertEquals(done.code, 250);
      assertMatch(done.text, /^2\.0\.0 Ok: queued as /);
    } finally {
      await c.close();
    }
  });
});
