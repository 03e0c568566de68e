/**
 * `vmta`, `pool`, `listener`, `route`, `bounce-rule`, `bounce-policy`: the configuration objects a
 * node runs with (core/manage,
 * docs/management.md), changed live on every node. Built by cli/objects.ts.
 */
import { objectCommand } from "./objects.ts";

/** `vmta`: source IPs (virtual MTAs). */
export const vmtaCommand = objectCommand({
  name: "vmta",
  kind: "vmta",
  summary: "List or change the source IPs (virtual MTAs)",
  description:
    `Source IPs with their EHLO host name, pool, weight, daily cap or warm-up schedule. A new or
enabled vmta is used from the next connection; a disabled one drains (no new connections, mail in
flight finishes). ID is the IP, or NODE/IP for a vmta pinned to one node (node=NODE).`,
  example: "ip=10.0.0.5 hostname=mta5.example.com pool=bulk weight=2",
  toggles: true,
});

/** `pool`: named pools of source IPs. */
export const poolCommand = objectCommand({
  name: "pool",
  kind: "pool",
  summary: "List or change the pools of source IPs",
  description:
    `Named pools. A vmta joins the pool its "pool" names; "ips" adds members with their own weight
or daily cap, as delivery.pools does in the file. ID is the pool name.`,
  example: `name=bulk ips='["10.0.0.5"]'`,
});

/** `listener`: SMTP listeners. */
export const listenerCommand = objectCommand({
  name: "listener",
  kind: "listener",
  summary: "List or change the SMTP listeners",
  description:
    `SMTP listeners (ip, port, mode smtp|submission|smtps, certificate files or tls_certificate,
the name of a certificate uploaded with "fastmta tls-cert add"). Running nodes bind a new
listener and close a removed one within seconds; one that cannot bind is reported by "fastmta
nodes --json" (listener_errors) and the rest stays as it was. ID is IP:PORT, or NODE/IP:PORT.`,
  example: "ip=127.0.0.1 port=2526 mode=submission",
  toggles: true,
});

/** `route`: the transport map. */
export const routeCommand = objectCommand({
  name: "route",
  kind: "route",
  summary: "List or change routes (domain to smarthost)",
  description:
    `Routes send mail for a domain (or "*" for all) to a host instead of its MX: host, port, tls,
auth. ID is the domain.`,
  example: "domain=example.org host=relay.example.net port=587",
});

/** `bounce-rule`: the operator's bounce classification rules. */
export const bounceRuleCommand = objectCommand({
  name: "bounce-rule",
  kind: "bounce_rule",
  summary: "List or change the bounce classification rules",
  description:
    `Rules tried before the built-in bounce classification: a reply whose text matches "pattern"
(an RE2 regular expression, case-insensitive) and, when set, whose code is "code" gets "category"
(bad_mailbox, spam_block, policy, ...). Lower "priority" first (default 100), then by name. Every
node applies a change to its next bounce within seconds (docs/bounces.md). ID is the name.`,
  example: `name=acme-block pattern='custom text' code=550 category=spam_block`,
});

/** `bounce-policy`: VERP, unsubscribe links, bounce domains per sending domain or pool. */
export const bouncePolicyCommand = objectCommand({
  name: "bounce-policy",
  kind: "bounce_policy",
  summary: "List or change the bounce policies (VERP, unsubscribe, bounce domains)",
  description:
    `Bounce handling for the cluster (scope=default), one sending domain (scope=sending_domain
sending_domain=D) or one pool (scope=pool pool=P): verp {enabled, domain, prefix}, unsubscribe
{enabled, base_url}, domains (more bounce/feedback domains), delay_notice {after, mode}
(default only). A field left out falls back to the wider policy, then to the file's bounce.*
keys; the sending domain's policy wins over the pool's. Every node applies a change within
seconds (docs/bounces.md). ID is "default", "domain:D" or "pool:P".`,
  example:
    `scope=sending_domain sending_domain=example.com verp='{"enabled":true,"domain":"bounces.example.com"}'`,
});
