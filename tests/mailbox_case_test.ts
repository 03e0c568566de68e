/**
 * Issue 18: local parts are case-sensitive (RFC 5321 §2.4), domains are not. Units, recipient
 * dedup and DSN parameters all use the same key (core/mail `mailboxKey`).
 */
import { assertEquals } from "./helpers/assert.ts";
import { splitByDomain, unitsOf } from "../core/contracts/mod.ts";
import { mailboxKey } from "../core/mail/mod.ts";
import { dsnParamsFromMeta, wantsFailureNotice } from "../core/bounce/dsn.ts";

Deno.test("mailboxKey keeps the local part and folds the domain", () => {
  assertEquals(mailboxKey("Bob@Example.COM"), "Bob@example.com");
  assertEquals(mailboxKey("bob@example.com"), "bob@example.com");
});

Deno.test("splitByDomain keeps case-distinct local parts, drops domain-case repeats", () => {
  const split = splitByDomain(["Bob@x.test", "bob@x.test", "bob@X.TEST", "Bob@x.test"]);
  assertEquals([...split], [["x.test", ["Bob@x.test", "bob@x.test"]]]);
  const units = unitsOf({ id: "m1", recipients: ["A@y.test", "a@y.test", "a@Z.test"] });
  assertEquals(units.map((u) => [u.domain, u.recipients]), [
    ["y.test", ["A@y.test", "a@y.test"]],
    ["z.test", ["a@Z.test"]],
  ]);
});

Deno.test("DSN parameters are looked up per mailbox, not per lower-cased address", () => {
  const params = dsnParamsFromMeta({
    dsn: { rcpt: { "Bob@x.test": { notify: "NEVER" }, "bob@x.test": { notify: "FAILURE" } } },
  });
  assertEquals(wantsFailureNotice(params, "Bob@X.TEST"), false);
  assertEquals(wantsFailureNotice(params, "bob@x.test"), true);
});
