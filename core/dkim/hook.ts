/**
 * The DKIM hook of delivery: a signer built from the config, keys read from the store, whose
 * answer is what body preparation needs (the bytes to send, or a hold when `on_error` is
 * "defer"). Reads config: dkim.*.
 */
import type { Config } from "../config/mod.ts";
import { DkimSigner, type DkimSignerOptions } from "./sign.ts";

/** Signs a message body, or says to hold the unit. */
export type DkimSignHook = (body: Uint8Array) => Promise<{ body: Uint8Array } | { hold: string }>;

/** The delivery worker's signing hook. */
export function dkimSignHook(
  config: Config,
  loadKeys: DkimSignerOptions["loadKeys"],
  log: (line: string) => void,
): DkimSignHook {
  const signer = new DkimSigner({
    loadKeys,
    masterKeyFile: config.dkim.masterKeyFile,
    onError: config.dkim.on_error,
    refreshMs: config.dkim.refresh_interval,
    log,
  });
  return async (body) => {
    const result = await signer.sign(body);
    return result.kind === "hold" ? { hold: result.reason } : { body: result.body };
  };
}
