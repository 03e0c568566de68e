/**
 * Wires the bounce and DKIM stages into a delivery worker: the suppression screen and DKIM
 * signing go into the delivery context (called by core/delivery before a transaction),
 * classification runs on each outcome before settle, and the bounce processor follows each
 * settled batch (suppressions, DSNs submitted through core/accept).
 * Reads config: bounce.*, dkim.*, smtp.hostname, id.
 */
import { Acceptor } from "../core/accept/mod.ts";
import { BounceProcessor, classifyOutcome, suppressionScreen } from "../core/bounce/mod.ts";
import type { Config } from "../core/config/mod.ts";
import type { DeliveryContext } from "../core/delivery/deliver_unit.ts";
import { DkimSigner } from "../core/dkim/mod.ts";
import type { UnitOutcome } from "../core/contracts/mod.ts";
import type { Queue } from "../core/queue/mod.ts";
import type { Store } from "../core/store/mod.ts";
import type { FromWorker } from "./protocol.ts";

/** How often due DSNs that an earlier pass could not send are retried. */
const SWEEP_MS = 60_000;

/** The hooks a delivery worker calls. */
export interface BounceHooks {
  classify(outcome: UnitOutcome): UnitOutcome;
  afterSettle(batch: UnitOutcome[]): void;
  stop(): Promise<void>;
}

/** Installs the screen and signer into `ctx` and returns the worker's hooks. */
export function createBounceHooks(
  config: Config,
  index: number,
  store: Store,
  queue: Pick<Queue, "enqueue">,
  ctx: DeliveryContext,
  post: (message: FromWorker) => void,
): BounceHooks {
  const log = (line: string) => post({ type: "log", line });
  ctx.screen = suppressionScreen(store, log);
  const signer = new DkimSigner({
    loadKeys: () => store.dkimKeys(),
    masterKeyFile: config.dkim.masterKeyFile,
    onError: config.dkim.on_error,
    refreshMs: config.dkim.refresh_interval,
    log,
  });
  ctx.sign = async (body) => {
    const result = await signer.sign(body);
    return result.kind === "hold" ? { hold: result.reason } : { body: result.body };
  };
  const acceptor = new Acceptor(queue, {
    onCommitted: (count) => post({ type: "accepted", count }),
  });
  const processor = new BounceProcessor({
    store,
    acceptor,
    config,
    claimPrefix: `claim:${config.nodeId.slice(0, 40)}:${index}:`,
    log,
  });
  // Reports a previous run of this slot left half done, and any still due.
  processor.recover();
  const sweep = setInterval(() => processor.sweep(), SWEEP_MS);
  return {
    classify: classifyOutcome,
    afterSettle: (batch) => processor.afterSettle(batch),
    stop: async () => {
      clearInterval(sweep);
      await processor.idle();
    },
  };
}
