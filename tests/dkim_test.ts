import { Buffer } from "node:buffer";
import { verifyDkim } from "./helpers/dkim_verify.ts";
import { hasDkimpy, verifyWithDkimpy } from "./helpers/dkimpy.ts";
import { assert, assertEquals, assertMatch, assertRejects } from "./helpers/assert.ts";
import { tempDir } from "./helpers/net.ts";
import {
  DkimSigner,
  dnsRecordValue,
  fromDomain,
  generateDkimKey,
  keyAad,
  MasterKey,
  type SignResult,
  toCrlf,
  zoneFileRecord,
} from "../core/dkim/mod.ts";
import type { DkimKeyRecord } from "../core/store/mod.ts";

const MASTER_B64 = Buffer.alloc(32, 7).toString("base64");

const MESSAGE = 'From: "Alice (sales)" <alice@mail.example.com>\r\n' +
  "To: bob@example.org\r\nSubject: Quarterly numbers\r\n" +
  "Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <m1@example.com>\r\n" +
  "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
  "Hello Bob,\r\n\r\nthe numbers are   fine.\r\n.leading dot line\r\n";

async function keyset(domain: string) {
  const master = await MasterKey.load("/nonexistent", { env: MASTER_B64 });
  const rsa = generateDkimKey("rsa");
  const ed = generateDkimKey("ed25519");
  const records: DkimKeyRecord[] = [
    {
      domain,
      selector: "rsa1",
      algorithm: rsa.algorithm,
      privateKey: master!.seal(rsa.privateKeyPem, keyAad(domain, "rsa1")),
      publicKey: rsa.publicKey,
      createdAt: 0,
    },
    {
      domain,
      selector: "ed1",
      algorithm: ed.algorithm,
      privateKey: master!.seal(ed.privateKeyPem, keyAad(domain, "ed1")),
      publicKey: ed.publicKey,
      createdAt: 0,
    },
  ];
  const txt = new Map(
    records.map((r) => [
      `${r.selector}._domainkey.${domain}`,
      dnsRecordValue(r.algorithm, r.publicKey),
    ]),
  );
  return { records, txt };
}

function signer(records: DkimKeyRecord[], onError: "send_unsigned" | "defer" = "send_unsigned") {
  const lines: string[] = [];
  const s = new DkimSigner({
    loadKeys: () => Promise.resolve(records),
    masterKeyFile: "/nonexistent/dkim_master.key",
    onError,
    refreshMs: 60_000,
    log: (line) => lines.push(line),
  });
  return { signer: s, lines };
}

/** mailauth's verifier, resolving TXT from a map (as a DNS server would answer). */
function verify(bytes: Uint8Array, txt: Map<string, string>) {
  return verifyDkim(bytes, (name) => txt.get(name));
}

function bodyOf(result: SignResult): Uint8Array {
  assert("body" in result, `expected a body, got ${result.kind}`);
  return result.body;
}

Deno.test("signs with RSA and Ed25519 keys of the From domain's parent; mailauth verifies", async () => {
  Deno.env.set("FASTMTA_DKIM_MASTER_KEY", MASTER_B64);
  try {
    const { records, txt } = await keyset("example.com");
    const { signer: s } = signer(records);
    const result = await s.sign(new TextEncoder().encode(MESSAGE));
    assertEquals(result.kind, "signed");
    const signed = bodyOf(result);
    const text = new TextDecoder().decode(signed);
    assertMatch(text, /^DKIM-Signature: v=1; a=rsa-sha256; c=relaxed\/relaxed; d=example\.com;/);
    assertMatch(text, /DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed\/relaxed; d=example\.com;/);
    assert(text.endsWith(MESSAGE), "the original bytes follow the signatures unchanged");
    const results = await verify(signed, txt);
    assertEquals(results.map((r) => [r.selector, r.result]).sort(), [
      ["ed1", "pass"],
      ["rsa1", "pass"],
    ]);

    // Tampering: a changed body and a changed signed header both fail.
    const body = text.replace("are   fine", "are bad");
    for (const r of await verify(new TextEncoder().encode(body), txt)) {
      assert(r.result !== "pass", `body tamper must not pass (${r.selector}: ${r.result})`);
    }
    const header = text.replace("Subject: Quarterly numbers", "Subject: Quarterly Numbers!");
    for (const r of await verify(new TextEncoder().encode(header), txt)) {
      assertEquals(r.result, "fail", `header tamper (${r.selector})`);
    }
    assertEquals(s.signed, 1);
    assertEquals(s.failures, 0);
  } finally {
    Deno.env.delete("FASTMTA_DKIM_MASTER_KEY");
  }
});

Deno.test("bare LF messages are signed as they go on the wire (CRLF)", async () => {
  Deno.env.set("FASTMTA_DKIM_MASTER_KEY", MASTER_B64);
  try {
    const { records, txt } = await keyset("example.com");
    const lf = MESSAGE.replaceAll("\r\n", "\n");
    const signed = bodyOf(await signer(records).signer.sign(new TextEncoder().encode(lf)));
    assert(!/[^\r]\n/.test(new TextDecoder().decode(signed)), "all line ends are CRLF");
    for (const r of await verify(signed, txt)) assertEquals(r.result, "pass");
  } finally {
    Deno.env.delete("FASTMTA_DKIM_MASTER_KEY");
  }
});

Deno.test("no key for the From domain, or no From: sent unsigned, not a failure", async () => {
  Deno.env.set("FASTMTA_DKIM_MASTER_KEY", MASTER_B64);
  try {
    const { records } = await keyset("example.net");
    const { signer: s } = signer(records);
    const body = new TextEncoder().encode(MESSAGE);
    const a = await s.sign(body);
    assertEquals(a.kind, "unsigned");
    assertEquals(bodyOf(a), body);
    assertEquals(
      (await s.sign(new TextEncoder().encode("Subject: x\r\n\r\nhi\r\n"))).kind,
      "unsigned",
    );
    assertEquals(s.failures, 0);
  } finally {
    Deno.env.delete("FASTMTA_DKIM_MASTER_KEY");
  }
});

Deno.test("a key that cannot be opened: logged, counted, then unsigned or held per config", async () => {
  // No master key in the environment and no key file: sealed keys cannot be opened.
  const { records } = await keyset("example.com");
  const unsigned = signer(records, "send_unsigned");
  const body = new TextEncoder().encode(MESSAGE);
  const a = await unsigned.signer.sign(body);
  assertEquals(a.kind, "failed");
  assertEquals(bodyOf(a), body);
  assertEquals(unsigned.signer.failures, 1);
  assert(
    unsigned.lines.some((l) =>
      /dkim: cannot sign for example\.com .*sending unsigned; 1 failures/.test(l)
    ),
    unsigned.lines.join("\n"),
  );

  const held = signer(records, "defer");
  const b = await held.signer.sign(body);
  assertEquals(b.kind, "hold");
  assertMatch((b as { reason: string }).reason, /^DKIM signing failed: /);
  assertEquals(held.signer.failures, 1);

  // A damaged sealed key fails the same way, even with the right master key.
  Deno.env.set("FASTMTA_DKIM_MASTER_KEY", MASTER_B64);
  try {
    const damaged = records.map((r) => ({
      ...r,
      privateKey: r.privateKey.slice(0, -8) + "AAAAAAA=",
    }));
    const c = await signer(damaged, "defer").signer.sign(body);
    assertEquals(c.kind, "hold");
  } finally {
    Deno.env.delete("FASTMTA_DKIM_MASTER_KEY");
  }
});

Deno.test("master key: created 0600, seals bound to domain and selector", async () => {
  await using dir = tempDir();
  const file = `${dir.path}/sub/dkim_master.key`;
  assertEquals(await MasterKey.load(file, { env: "" }), null);
  const created = await MasterKey.load(file, { create: true, env: "" });
  assert(created);
  assertEquals((await Deno.stat(file)).mode! & 0o777, 0o600);
  const again = await MasterKey.load(file, { env: "" });
  const sealed = created.seal("secret pem", keyAad("Example.com", "s1"));
  assertEquals(again!.open(sealed, keyAad("example.com", "s1")), "secret pem");
  await assertRejects(() => again!.open(sealed, keyAad("example.com", "s2")));
  await assertRejects(() => MasterKey.load(file, { env: "c2hvcnQ=" }));
});

Deno.test("fromDomain, toCrlf and the zone-file record", () => {
  const cases: [string, string | null][] = [
    ["From: alice@Example.COM\r\n\r\n", "example.com"],
    ['From: "Doe, John" <john@a.example.org>\r\nTo: x@y.z\r\n\r\n', "a.example.org"],
    ["To: x@y.z\r\nfrom:\r\n  Bob (the boss) <bob@b.test>\r\n\r\n", "b.test"],
    ["from: bob@b.test (Bob), carol@c.test\n\n", "b.test"],
    ["Subject: no from\r\n\r\nFrom: body@x.test\r\n", null],
    ["From: undisclosed\r\n\r\n", null],
  ];
  for (const [message, expected] of cases) {
    assertEquals(fromDomain(new TextEncoder().encode(message)), expected, message);
  }
  assertEquals(
    new TextDecoder().decode(toCrlf(new TextEncoder().encode("a\nb\r\nc\n"))),
    "a\r\nb\r\nc\r\n",
  );
  const value = "v=DKIM1; k=rsa; p=" + "A".repeat(400);
  const record = zoneFileRecord("example.com", "s1", value);
  assertMatch(record, /^s1\._domainkey\.example\.com\. IN TXT \( "v=DKIM1; k=rsa; p=A+" "A+" \)$/);
  const joined = [...record.matchAll(/"([^"]*)"/g)].map((m) => m[1]);
  assert(joined.every((s) => s.length <= 255));
  assertEquals(joined.join(""), value);
});

Deno.test({
  name: "dkimpy (Python, no shared code) verifies both signatures and rejects tampering",
  ignore: !(await hasDkimpy()),
  fn: async () => {
    Deno.env.set("FASTMTA_DKIM_MASTER_KEY", MASTER_B64);
    try {
      const { records, txt } = await keyset("example.com");
      const signed = bodyOf(await signer(records).signer.sign(new TextEncoder().encode(MESSAGE)));
      assertEquals(await verifyWithDkimpy(signed, txt), ["pass", "pass"]);
      const text = new TextDecoder().decode(signed);
      const tampered = new TextEncoder().encode(text.replace("are   fine", "are bad"));
      for (const verdict of await verifyWithDkimpy(tampered, txt)) {
        assertMatch(verdict, /^(fail|error: body hash mismatch)/);
      }
      const forged = new TextEncoder().encode(text.replace("Quarterly numbers", "Quarterly"));
      assertEquals(await verifyWithDkimpy(forged, txt), ["fail", "fail"]);
    } finally {
      Deno.env.delete("FASTMTA_DKIM_MASTER_KEY");
    }
  },
});
