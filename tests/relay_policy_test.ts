/**
 * The relay policy's answers (core/accept/policy.ts), asked twice per address: the second answer
 * comes from its per-address memo and must be the same, for IPv4, IPv4-mapped IPv6 and IPv6.
 */
import { assertEquals } from "./helpers/assert.ts";
import { relayPolicy } from "../core/accept/policy.ts";

Deno.test("relay policy: relay networks are trusted, others only for local domains", () => {
  const policy = relayPolicy(["10.0.0.0/8", "192.0.2.7", "2001:db8::/32"], ["Example.ORG"]);
  for (let pass = 0; pass < 2; pass++) {
    assertEquals(policy.isTrusted("10.1.2.3"), true);
    assertEquals(policy.isTrusted("::ffff:10.1.2.3"), true);
    assertEquals(policy.isTrusted("192.0.2.7"), true);
    assertEquals(policy.isTrusted("192.0.2.8"), false);
    assertEquals(policy.isTrusted("2001:db8::1"), true);
    assertEquals(policy.isTrusted("2001:db9::1"), false);
    assertEquals(policy.mayRelay("192.0.2.8", false, "elsewhere.test"), false);
    assertEquals(policy.mayRelay("192.0.2.8", false, "example.org"), true);
    assertEquals(policy.mayRelay("192.0.2.8", true, "elsewhere.test"), true);
    assertEquals(policy.mayRelay("10.9.9.9", false, "elsewhere.test"), true);
  }
});

Deno.test("relay policy: many distinct addresses keep giving the right answer", () => {
  const policy = relayPolicy(["10.0.0.0/8"], []);
  for (let i = 0; i < 10_000; i++) {
    const ip = `${i % 2 === 0 ? 10 : 11}.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    assertEquals(policy.isTrusted(ip), i % 2 === 0, ip);
  }
});
