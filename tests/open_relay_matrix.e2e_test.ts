/**
 * Issue 18, the open-relay walk: every listener mode (smtp, submission, smtps) × auth state (none,
 * failed, authenticated; and a trusted relay network) against a foreign recipient, and, from an
 * untrusted client on the port-25 listener, the address tricks relays have been fooled with:
 * the percent hack, bang paths, source routes, quoted local parts holding an `@`, IP literals,
 * trailing dots and letter case. Only mail to a local domain (in any case) may come in from an
 * untrusted, unauthenticated client; AUTH is offered and taken only inside TLS.
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { smtplibSession, startSmtpFixture } from "./helpers/smtp_fixture.ts";
import { RawSmtp } from "./helpers/smtp_raw.ts";

const USER = { name: "relay-user", password: "relay-password-1" };
/** Not in the fixture's relay networks (127.0.0.1/32). */
const UNTRUSTED = "127.0.0.77";

/** The reply to `RCPT TO:<to>` after a fresh MAIL, from an untrusted client, unauthenticated. */
async function rcptFromUntrusted(c: RawSmtp, to: string): Promise<{ code: number; text: string }> {
  const rset = await c.command("RSET");
  assertEquals(rset.code, 250);
  const mail = await c.command("MAIL FROM:<probe@outside.test>");
  assertEquals(mail.code, 250, mail.text);
  return await c.command(`RCPT TO:${to}`);
}

Deno.test("open-relay matrix: modes × auth states × address tricks", async (t) => {
  await using fx = await startSmtpFixture({
    users: [USER],
    smtp: { max_errors: 1000, local_domains: ["local.test"] },
  });
  const { smtp, submission, smtps } = fx.ports;

  await t.step("port 25, untrusted, no AUTH: only local domains, no routing tricks", async () => {
    const c = await RawSmtp.connect("127.0.0.1", smtp, { localAddress: UNTRUSTED });
    try {
      assertEquals((await c.read()).code, 220);
      assertEquals((await c.command("EHLO probe.test")).code, 250);
      const allowed = ["<user@local.test>", "<user@LOCAL.TEST>", "<User.Name+tag@Local.Test>"];
      for (const to of allowed) {
        const r = await rcptFromUntrusted(c, to);
        assertEquals(r.code, 250, `${to}: ${r.text}`);
      }
      const refused = [
        "<victim@foreign.test>",
        "<victim@FOREIGN.TEST>",
        "<victim@foreign.test.>",
        "<victim@local.test.foreign.test>",
        "<victim%foreign.test@local.test>", // percent hack
        "<victim%foreign.test@LOCAL.test>",
        "<foreign.test!victim@local.test>", // bang path
        "<@local.test:victim@foreign.test>", // source route
        "<@local.test,@other.test:victim@foreign.test>",
        '<"victim@foreign.test"@local.test>', // quoted local part with an @
        '<"victim%foreign.test"@local.test>',
        "<victim@[127.0.0.1]>", // IP literals
        "<victim@[10.0.0.1]>",
        "<victim@[IPv6:::1]>",
        "<victim@foreign.test@local.test>",
        "<victim@local.test@foreign.test>",
        "<postmaster@foreign.test>",
        "victim@foreign.test",
      ];
      for (const to of refused) {
        const r = await rcptFromUntrusted(c, to);
        assert(r.code >= 500 && r.code < 600, `${to} must be refused, got ${r.code} ${r.text}`);
      }
    } finally {
      await c.close();
    }
  });

  await t.step("AUTH is neither offered nor taken without TLS, on any listener", async () => {
    for (const port of [smtp, submission]) {
      const c = await RawSmtp.connect("127.0.0.1", port, { localAddress: UNTRUSTED });
      try {
        assertEquals((await c.read()).code, 220);
        const ehlo = await c.command("EHLO probe.test");
        assert(!ehlo.lines.some((l) => /^AUTH\b/i.test(l)), `AUTH offered before TLS on ${port}`);
        const auth = await c.command("AUTH PLAIN " + btoa(`\0${USER.name}\0${USER.password}`));
        assert(auth.code >= 500, `AUTH before TLS on ${port}: ${auth.code} ${auth.text}`);
        const mail = await c.command("MAIL FROM:<probe@outside.test>");
        if (port === smtp) {
          assertEquals(mail.code, 250);
          const r = await c.command("RCPT TO:<victim@foreign.test>");
          assert(r.code >= 500, `relayed after a refused AUTH: ${r.code}`);
        } else {
          assertEquals(mail.code, 530, mail.text);
        }
      } finally {
        await c.close();
      }
    }
  });

  // Each listener and auth state, over TLS, against a foreign recipient.
  const cases: {
    name: string;
    port: number;
    ssl?: boolean;
    login?: { user: string; password: string };
    from?: string;
    relays: boolean;
  }[] = [
    { name: "smtp, untrusted, no AUTH", port: smtp, relays: false },
    {
      name: "smtp, untrusted, failed AUTH",
      port: smtp,
      login: { user: USER.name, password: "wrong-password" },
      relays: false,
    },
    {
      name: "smtp, untrusted, authenticated",
      port: smtp,
      login: { user: USER.name, password: USER.password },
      relays: true,
    },
    { name: "smtp, trusted network, no AUTH", port: smtp, from: "127.0.0.1", relays: true },
    { name: "submission, no AUTH", port: submission, relays: false },
    {
      name: "submission, failed AUTH",
      port: submission,
      login: { user: USER.name, password: "wrong-password" },
      relays: false,
    },
    {
      name: "submission, authenticated",
      port: submission,
      login: { user: USER.name, password: USER.password },
      relays: true,
    },
    {
      name: "submission, trusted network, no AUTH",
      port: submission,
      from: "127.0.0.1",
      relays: false,
    },
    { name: "smtps, no AUTH", port: smtps, ssl: true, relays: false },
    {
      name: "smtps, failed AUTH",
      port: smtps,
      ssl: true,
      login: { user: USER.name, password: "wrong-password" },
      relays: false,
    },
    {
      name: "smtps, authenticated",
      port: smtps,
      ssl: true,
      login: { user: USER.name, password: USER.password },
      relays: true,
    },
  ];
  // Each case from an address of its own: failed AUTH attempts lock an address out (5 per IP).
  for (const [i, c] of cases.entries()) {
    await t.step(`${c.name}: ${c.relays ? "relays" : "refuses"} a foreign recipient`, async () => {
      const r = await smtplibSession({
        port: c.port,
        ssl: c.ssl,
        starttls: !c.ssl,
        login: c.login,
        from: "probe@outside.test",
        rcpts: [{ to: "victim@foreign.test" }],
        localAddress: c.from ?? `127.0.1.${10 + i}`,
      });
      assert(!r.error, r.error);
      if (c.login) {
        assertEquals(r.login?.code, c.relays ? 235 : 535, JSON.stringify(r.login));
      }
      const accepted = r.mail?.code === 250 && r.rcpt?.[0]?.code === 250;
      assertEquals(accepted, c.relays, JSON.stringify({ mail: r.mail, rcpt: r.rcpt }));
      if (!c.relays) {
        const refusal = r.mail?.code === 250 ? r.rcpt?.[0]?.code : r.mail?.code;
        assert(refusal !== undefined && refusal >= 500, JSON.stringify(r));
      }
    });
  }
});
