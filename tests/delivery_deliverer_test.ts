/**
 * The Deliverer seam: a runner built with a custom deliverer (a test sink, no SMTP, no DNS)
 * gets each unit with its prepared message, and what it reports is settled like SMTP results:
 * delivered, deferred (due again on the retry schedule), held (no attempt used).
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { startDeliveryEngine } from "./helpers/delivery_engine.ts";
import { waitUntil } from "./helpers/wait.ts";
import { type Attempted, type Deliverer, type DeliveryJob, noFacts } from "../core/delivery/mod.ts";
import type { RecipientResult } from "../core/contracts/mod.ts";

/** A deliverer that answers from `answer` and keeps what it was given. */
function sinkDeliverer(answer: (job: DeliveryJob, call: number) => Attempted | "delivered") {
  const received: { recipients: string[]; text: string }[] = [];
  let calls = 0;
  let closed = false;
  const deliverer: Deliverer = {
    async deliver(job) {
      const wire = await job.message.wire();
      assert("body" in wire, "the body is there");
      received.push({ recipients: job.unit.recipients, text: new TextDecoder().decode(wire.body) });
      const answered = answer(job, ++calls);
      if (answered !== "delivered") return answered;
      const results = new Map<string, RecipientResult>(job.unit.recipients.map((address) => [
        address,
        { address, outcome: "delivered", code: 250, reply: "250 stored" },
      ]));
      return { kind: "tried", results, reason: "remote", retry: null, facts: noFacts() };
    },
    close() {
      closed = true;
      return Promise.resolve();
    },
  };
  return { deliverer, received, isClosed: () => closed };
}

Deno.test("a custom deliverer gets the prepared message; its results are settled", async () => {
  const sink = sinkDeliverer((job, call) => {
    if (call > 1) return "delivered";
    const results = new Map<string, RecipientResult>([
      ["a@sink.test", { address: "a@sink.test", outcome: "delivered", code: 250, reply: "250 ok" }],
      ["b@sink.test", {
        address: "b@sink.test",
        outcome: "deferred",
        code: 451,
        reply: "451 full",
      }],
    ]);
    const facts = { ...noFacts(), mxHost: "sink", pool: "test" };
    assertEquals(job.unit.recipients, ["a@sink.test", "b@sink.test"]);
    return { kind: "tried", results, reason: "remote", retry: null, facts };
  });
  const engine = await startDeliveryEngine({
    queue: { poll_interval: "50ms" },
    delivery: { retry_schedule: ["100ms"] },
  }, { deliverer: { kind: "custom", deliverer: sink.deliverer } });
  try {
    const id = await engine.send({
      to: ["a@sink.test", "b@sink.test"],
      headers: ["X-FastMTA-Pool: bulk"],
    });
    await waitUntil(async () => (await engine.states(id))["b@sink.test"] === "deferred");
    assertEquals((await engine.states(id))["a@sink.test"], "delivered");
    const first = await engine.attempts(id);
    assertEquals(first.map((a) => [a.recipient, a.outcome, a.reason, a.mx_host, a.pool]), [
      ["a@sink.test", "delivered", null, "sink", "test"],
      ["b@sink.test", "deferred", "remote", "sink", "test"],
    ]);
    await engine.waitForStates(id, ["delivered"]);
    assertEquals(sink.received.map((r) => r.recipients), [
      ["a@sink.test", "b@sink.test"],
      ["b@sink.test"],
    ]);
    assert(!/X-FastMTA-Pool/i.test(sink.received[0].text), "control headers are not sent on");
    assert(/^Subject: test /m.test(sink.received[0].text));
  } finally {
    await engine.close();
  }
  assert(sink.isClosed(), "the runner closes its deliverer");
});

Deno.test("a custom deliverer's hold is settled as a hold: due later, no attempt used", async () => {
  const sink = sinkDeliverer((_job, call) =>
    call > 1 ? "delivered" : {
      kind: "held",
      reason: "local_limit",
      until: Date.now() + 200,
      why: "the sink is busy",
      facts: noFacts(),
    }
  );
  await using engine = await startDeliveryEngine({
    queue: { poll_interval: "50ms" },
  }, { deliverer: { kind: "custom", deliverer: sink.deliverer } });
  const id = await engine.send({ to: ["c@sink.test"] });
  await waitUntil(async () => (await engine.unit(id)).held === "local_limit");
  await engine.waitForStates(id, ["delivered"]);
  assertEquals((await engine.unit(id)).attempts, 1, "the hold gave its attempt back");
  assertEquals(sink.received.length, 2);
});
