/** What SMTP delivery (smtp_deliverer.ts) needs from its worker. */
import type { Config } from "../config/mod.ts";
import type { MxResolver } from "../routing/mx.ts";
import type { MtaStsPolicies } from "../routing/mta_sts.ts";
import type { ShapingPolicy } from "../routing/policy.ts";
import type { ConnectionPools } from "./pool.ts";
import type { SourceSelector } from "../routing/sources.ts";
import type { SourcePause } from "../routing/source_pauses.ts";

/** The worker's resolver, pools, source IPs and policies, shared by every SMTP attempt. */
export interface SmtpContext {
  config: Config;
  resolver: MxResolver;
  pools: ConnectionPools;
  /** The shaping rules in force (they change when rules are reloaded). */
  policy(): ShapingPolicy;
  sources: SourceSelector;
  /** The vmta pauses in force (from the main thread): their sources are skipped. */
  sourcePauses?: readonly SourcePause[];
  mtaSts: MtaStsPolicies;
  /** Trusted CAs for verified TLS: Node's roots plus `delivery.tls_ca_file`, if set. */
  ca?: string[];
}
