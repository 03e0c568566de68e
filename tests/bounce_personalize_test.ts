/**
 * The per-recipient envelope hook (core/bounce/personalize.ts through core/delivery/body.ts):
 * VERP only where `bounce.verp` applies (sending domain or pool, never the null sender),
 * List-Unsubscribe headers added before signing unless the message has its own, one body per
 * recipient, and none of it when both are off.
 */
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { parseConfig } from "../core/config/mod.ts";
import type { LeasedUnit } from "../core/contracts/mod.ts";
import { personalizeHook, wantsVerp } from "../core/bounce/personalize.ts";
import { splitToken, type TokenKey, tokenRecipient } from "../core/bounce/tokens.ts";
import { prepareMessage } from "../core/delivery/body.ts";

const KEY: TokenKey = { bytes: new Uint8Array(32).fill(9) };
const ID = "0123456789BCDFGH";

function unit(sender: string, recipients = ["a@x.test", "b@x.test"]): LeasedUnit {
  return {
    v: 1,
    unitId: "u1",
    messageId: ID,
    domain: "x.test",
    sender,
    attempts: 0,
    createdAt: 0,
    leaseToken: "t",
    recipients,
  } as LeasedUnit;
}

function configWith(bounce: Record<string, unknown>) {
  return parseConfig({ bounce });
}

Deno.test("VERP applies to all, or only to the listed sending domains or pools; never to <>", () => {
  const all = configWith({ verp: { enabled: true, domain: "b.test" } });
  assertEquals(wantsVerp(all, unit("n@shop.test"), "default"), true);
  assertEquals(wantsVerp(all, unit(""), "default"), false);
  const some = configWith({
    verp: { enabled: true, domain: "b.test", sender_domains: ["Shop.test"], pools: ["bulk"] },
  });
  assertEquals(wantsVerp(some, unit("n@shop.test"), "default"), true);
  assertEquals(wantsVerp(some, unit("n@other.test"), "bulk"), true);
  assertEquals(wantsVerp(some, unit("n@other.test"), "default"), false);
  assertEquals(wantsVerp(configWith({}), unit("n@shop.test"), "default"), false);
});

Deno.test("each recipient gets its VERP sender and its own signed List-Unsubscribe link", async () => {
  const config = configWith({
    verp: { enabled: true, domain: "b.test" },
    unsubscribe: { enabled: true, base_url: "https://mta.example/" },
  });
  const stored = new TextEncoder().encode("Subject: hi\r\nX-FastMTA-Pool: p\r\n\r\nbody\r\n");
  const signed: string[] = [];
  const source = {
    readBody: () => Promise.resolve(stored),
    readBodyHead: () => Promise.resolve({ head: stored, size: stored.byteLength }),
    sign: (body: Uint8Array) => {
      signed.push(new TextDecoder().decode(body));
      return Promise.resolve({ body });
    },
    personalize: personalizeHook(config, KEY),
  };
  const u = unit("n@shop.test");
  const prepared = await prepareMessage(source, u, []);
  assert(prepared.kind === "ready");
  const personal = prepared.message.personalized(u, "default");
  assert(personal);
  const a = await personal("a@x.test");
  const b = await personal("b@x.test");
  assertMatch(a.sender, /^b\+0123456789BCDFGH-[a-z2-7]{10}@b\.test$/);
  assert(a.sender !== b.sender);
  const token = splitToken(a.sender.slice(2, a.sender.indexOf("@")))!;
  assertEquals(tokenRecipient(KEY, "verp", token, u.recipients), "a@x.test");
  assertEquals(signed.length, 2, "signed once per recipient, with the headers");
  const url = /^List-Unsubscribe: <https:\/\/mta\.example\/unsubscribe\/([^>]+)>\r$/m.exec(
    signed[0],
  )?.[1];
  assert(url, signed[0]);
  assertEquals(tokenRecipient(KEY, "unsubscribe", splitToken(url)!, u.recipients), "a@x.test");
  assertMatch(signed[0], /^List-Unsubscribe-Post: List-Unsubscribe=One-Click\r$/m);
  assertEquals(signed[0].includes("X-FastMTA-Pool"), false, "control headers still removed");
});

Deno.test("a message with its own List-Unsubscribe keeps it; nothing personal when both are off", async () => {
  const config = configWith({ unsubscribe: { enabled: true, base_url: "https://mta.example" } });
  const stored = new TextEncoder().encode(
    "Subject: hi\r\nList-Unsubscribe: <mailto:u@shop.test>\r\n\r\nbody\r\n",
  );
  const source = {
    readBody: () => Promise.resolve(stored),
    readBodyHead: () => Promise.resolve({ head: stored, size: stored.byteLength }),
    personalize: personalizeHook(config, KEY),
  };
  const u = unit("n@shop.test", ["a@x.test"]);
  const prepared = await prepareMessage(source, u, []);
  assert(prepared.kind === "ready");
  const one = await prepared.message.personalized(u, "default")!("a@x.test");
  assertEquals(one.sender, "n@shop.test", "no VERP configured");
  assert("body" in one.body);
  assertEquals(new TextDecoder().decode(one.body.body), new TextDecoder().decode(stored));
  const off = await prepareMessage(
    { ...source, personalize: personalizeHook(configWith({}), KEY) },
    u,
    [],
  );
  assert(off.kind === "ready");
  assertEquals(off.message.personalized(u, "default"), null);
  const dsn = await prepareMessage(source, unit(""), []);
  assert(dsn.kind === "ready");
  assertEquals(dsn.message.personalized(unit(""), "default"), null, "never for the null sender");
});
