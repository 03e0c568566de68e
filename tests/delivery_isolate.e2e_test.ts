/**
 * `delivery.isolate` and `smtp.isolate` (issue 19): a node whose delivery engine runs in the main
 * isolate (`main`) or in the SMTP worker (`smtp`), or whose SMTP stage runs in the main isolate
 * as well, relays mail like one with a delivery worker of its own, keeps answering its admin API,
 * reports delivery's counters, and stops cleanly on SIGTERM.
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { E2E_DOMAIN as DOMAIN, startE2eFixture } from "./helpers/e2e_fixture.ts";
import { adminApi, sendWithSwaks, TEST_API_TOKEN } from "./helpers/server_process.ts";
import { waitUntil } from "./helpers/wait.ts";

interface MessageStatusJson {
  recipients: { state: string }[];
}

// `smtp.isolate: main` with delivery in the main isolate too: the whole pipeline in one isolate.
const LAYOUTS = [
  { name: "delivery.isolate main", delivery: "main", smtp: "worker" },
  { name: "delivery.isolate smtp", delivery: "smtp", smtp: "worker" },
  { name: "smtp.isolate main", delivery: "main", smtp: "main" },
] as const;

for (const { name, delivery, smtp } of LAYOUTS) {
  Deno.test(`${name}: mail is relayed, the API answers, SIGTERM stops`, async () => {
    await using e2e = await startE2eFixture();
    const config = e2e.nodeConfig();
    config.delivery = { ...(config.delivery as Record<string, unknown>), isolate: delivery };
    config.smtp = { ...config.smtp, isolate: smtp };
    const server = await e2e.start(config);
    try {
      const sent = await sendWithSwaks({
        server: server.smtpAddress,
        from: "sender@origin.test",
        to: [`rcpt@${DOMAIN}`],
        data:
          `From: <sender@origin.test>\r\nTo: <rcpt@${DOMAIN}>\r\nSubject: ${name}\r\n\r\nHi\r\n`,
      });
      assertEquals(sent.code, 0, sent.stdout + sent.stderr);
      assert(sent.queueId);
      const [received] = await e2e.sink.waitForMessages(1);
      assertEquals(received.rcptTo, [`rcpt@${DOMAIN}`]);
      await waitUntil(async () => {
        const { body } = await adminApi<MessageStatusJson>(
          server,
          `/api/v1/messages/${sent.queueId}`,
        );
        return body?.recipients?.every((r) => r.state === "delivered") ?? false;
      }, { timeoutMs: 30_000, message: "delivered" });
      if (Deno.build.os === "linux") {
        // Deno names a Web Worker's thread `worker-N`: with both stages in the main isolate
        // there is none.
        const task = `/proc/${server.pid}/task`;
        const threads = [...Deno.readDirSync(task)]
          .map((t) => Deno.readTextFileSync(`${task}/${t.name}/comm`).trim());
        const workers = threads.filter((n) => n.startsWith("worker-"));
        assertEquals(workers.length > 0, smtp === "worker", threads.join(", "));
      }
      // Delivery's counters reach /metrics from wherever delivery runs.
      await waitUntil(async () => {
        const res = await fetch(`${server.adminUrl}/metrics`, {
          headers: { authorization: `Bearer ${TEST_API_TOKEN}` },
        });
        const text = await res.text();
        return /fastmta_recipients_total\{[^}]*outcome="delivered"[^}]*\} 1\b/.test(text);
      }, { timeoutMs: 30_000, message: "delivery counted in /metrics" });
      const status = await server.stop(20_000);
      assertEquals(status.code, 0, server.logs());
      assert(!/crashed|Uncaught/.test(server.logs()), server.logs());
    } catch (error) {
      e2e.dump();
      throw error;
    }
  });
}
