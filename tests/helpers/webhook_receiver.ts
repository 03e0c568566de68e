/**
 * A webhook receiver on loopback for the events tests: checks the signature of every POST
 * (core/events/signature.ts, as docs/webhooks.md tells receivers to), keeps the batches, and
 * can be taken down (its port closed) and brought up again on the same port.
 */
import { SIGNATURE_HEADER, verifySignature } from "../../core/events/signature.ts";
import type { FastmtaEvent } from "../../core/contracts/events.ts";
import { freePort, uniqueLoopbackIp } from "./net.ts";

/** One POST the receiver got. */
export interface ReceivedBatch {
  webhookId: string;
  events: FastmtaEvent[];
  signatureValid: boolean;
}

/** A running receiver. */
export interface WebhookReceiver extends AsyncDisposable {
  readonly url: string;
  readonly batches: ReceivedBatch[];
  /** Every event of a validly signed batch, in arrival order (duplicates kept). */
  events(): FastmtaEvent[];
  /** POSTs whose signature did not verify. */
  badSignatures(): number;
  /** Closes the port: POSTs fail to connect. */
  down(): Promise<void>;
  /** Listens again on the same port. */
  up(): void;
}

/** Starts a receiver checking signatures with `secret`. */
export function startWebhookReceiver(secret: string): WebhookReceiver {
  const hostname = uniqueLoopbackIp();
  const port = freePort(hostname);
  const batches: ReceivedBatch[] = [];
  let server: Deno.HttpServer | null = null;
  const listen = () => {
    server = Deno.serve({ hostname, port, onListen: () => {} }, async (request) => {
      const body = await request.text();
      const signatureValid = verifySignature(
        secret,
        request.headers.get(SIGNATURE_HEADER) ?? "",
        body,
      );
      const parsed = JSON.parse(body) as { webhook_id: string; events: FastmtaEvent[] };
      batches.push({ webhookId: parsed.webhook_id, events: parsed.events, signatureValid });
      return new Response(signatureValid ? "ok" : "bad signature", {
        status: signatureValid ? 200 : 400,
      });
    });
  };
  listen();
  return {
    url: `http://${hostname}:${port}/hooks/fastmta`,
    batches,
    events: () => batches.filter((b) => b.signatureValid).flatMap((b) => b.events),
    badSignatures: () => batches.filter((b) => !b.signatureValid).length,
    down: async () => {
      await server?.shutdown();
      server = null;
    },
    up: () => {
      if (!server) listen();
    },
    [Symbol.asyncDispose]: async () => {
      await server?.shutdown();
    },
  };
}
