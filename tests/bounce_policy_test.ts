/**
 * Bounce policies (core/bounce/policy.ts, the `bounce_policy` kind): the sending domain's policy
 * wins over the pool's, the pool's over the default, the default over the file's `bounce.*`;
 * their VERP and extra domains are bounce domains; invalid bodies name the field. And a live key
 * unset in the new config (bounce.verp.domain removed) is unset on the running node too.
 */
import { assertEquals } from "./helpers/assert.ts";
import { type BouncePolicy, type Config, loadConfig } from "../core/config/mod.ts";
import { applyLiveSettings } from "../core/cluster/live.ts";
import {
  acceptedBounceDomains,
  delayNotice,
  effectiveBounce,
  verpDomains,
} from "../core/bounce/policy.ts";
import { bouncePolicyId, bouncePolicySchema } from "../core/manage/kinds.ts";

async function configWith(policies: BouncePolicy[], bounce: Record<string, unknown> = {}) {
  const config: Config = await loadConfig(null, {}, { bounce });
  config.bouncePolicies = policies;
  return config;
}

Deno.test("bounce policy: most specific wins, fields fall through to the wider one", async () => {
  const config = await configWith([
    { scope: "default", verp: { enabled: false, domain: "b.default.test", prefix: "d" } },
    { scope: "pool", pool: "bulk", verp: { enabled: true } },
    { scope: "sending_domain", sending_domain: "quiet.test", verp: { enabled: false } },
    {
      scope: "sending_domain",
      sending_domain: "shop.test",
      verp: { enabled: true, domain: "b.shop.test" },
      unsubscribe: { enabled: true, base_url: "https://mta.test" },
    },
  ], { unsubscribe: { enabled: false } });
  const of = (domain: string, pool: string) => effectiveBounce(config, domain, pool);
  assertEquals(of("other.test", "default").verp.enabled, false);
  assertEquals(of("other.test", "bulk").verp, {
    enabled: true,
    domain: "b.default.test",
    prefix: "d",
  });
  assertEquals(of("quiet.test", "bulk").verp.enabled, false);
  assertEquals(of("shop.test", "default").verp, {
    enabled: true,
    domain: "b.shop.test",
    prefix: "d",
  });
  assertEquals(of("shop.test", "default").unsubscribe.enabled, true);
  assertEquals(of("other.test", "bulk").unsubscribe.enabled, false);
  assertEquals([...verpDomains(config)], [["b.default.test", "d"], ["b.shop.test", "d"]]);
});

Deno.test("bounce policy: file keys are the seed; policies add bounce domains", async () => {
  const file = { verp: { enabled: true, domain: "b.file.test", sender_domains: ["a.test"] } };
  const config = await configWith([], file);
  assertEquals(effectiveBounce(config, "a.test", "default").verp.enabled, true);
  assertEquals(effectiveBounce(config, "b.test", "default").verp.enabled, false);
  config.bouncePolicies = [
    { scope: "default", domains: ["fbl.test"], delay_notice: { after: 60_000, mode: "always" } },
    { scope: "sending_domain", sending_domain: "b.test", verp: { enabled: true } },
  ];
  assertEquals(effectiveBounce(config, "b.test", "default").verp.domain, "b.file.test");
  assertEquals([...acceptedBounceDomains(config)].sort(), ["b.file.test", "fbl.test"]);
  assertEquals(delayNotice(config), { after: 60_000, mode: "always" });
});

Deno.test("bounce policy: invalid bodies name the field; ids from the scope", () => {
  const paths = (body: unknown) => {
    const result = bouncePolicySchema.safeParse(body);
    return result.success ? [] : result.error.issues.map((i) => i.path.join(".")).sort();
  };
  assertEquals(paths({ scope: "pool" }), ["pool"]);
  assertEquals(paths({ scope: "default", pool: "bulk" }), ["pool"]);
  assertEquals(paths({ scope: "nowhere" }), ["scope"]);
  assertEquals(paths({ scope: "default", verp: { enabled: true, prefix: "b+" } }), ["verp.prefix"]);
  assertEquals(
    paths({ scope: "pool", pool: "p", delay_notice: { after: "1h" } }),
    ["delay_notice"],
  );
  assertEquals(paths({ scope: "default", unsubscribe: { enabled: true, base_url: "ftp://x" } }), [
    "unsubscribe.base_url",
  ]);
  const body = bouncePolicySchema.parse({ scope: "sending_domain", sending_domain: "Shop.Test" });
  assertEquals(bouncePolicyId(body), "domain:shop.test");
  assertEquals(
    bouncePolicyId(bouncePolicySchema.parse({ scope: "pool", pool: "bulk" })),
    "pool:bulk",
  );
});

Deno.test("applyLiveSettings unsets an optional key the new config no longer has", async () => {
  const running = await configWith([], { verp: { enabled: false, domain: "b.old.test" } });
  // What a worker receives: JSON, where the removed key is simply absent.
  const next = JSON.parse(JSON.stringify(await configWith([]))) as Config;
  const changed = applyLiveSettings(running, next);
  assertEquals(changed, ["bounce.verp.domain"]);
  assertEquals("domain" in running.bounce.verp, false);
  assertEquals(applyLiveSettings(running, next), []);
});
