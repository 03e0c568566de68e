/**
 * `/metrics` end to end: the exposition passes `promtool check metrics`, a real Prometheus on
 * loopback scrapes the server every second and sees the delivered counter (bumped in a delivery
 * worker, merged on the main thread) rise after a message went through, and every metric the
 * Grafana dashboard in docs/ queries is in the output.
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { E2E_DOMAIN, startE2eFixture } from "./helpers/e2e_fixture.ts";
import { havePrometheus, promtoolCheck, startPrometheus } from "./helpers/prometheus.ts";
import { sendWithSwaks, TEST_API_TOKEN } from "./helpers/server_process.ts";
import { waitUntil } from "./helpers/wait.ts";
import { dashboardMetricNames } from "./helpers/dashboard.ts";

const DELIVERED = 'sum(fastmta_recipients_total{outcome="delivered"})';

Deno.test({
  name: "metrics: promtool accepts /metrics; Prometheus sees the delivered counter rise",
  ignore: !(await havePrometheus()),
  async fn() {
    await using e2e = await startE2eFixture({ prefix: "fastmta-metrics-" });
    const server = await e2e.start(e2e.nodeConfig());
    const admin = server.adminUrl!;
    const scrape = async () => {
      const response = await fetch(`${admin}/metrics`, {
        headers: { authorization: `Bearer ${TEST_API_TOKEN}` },
      });
      assertEquals(response.status, 200);
      assert(response.headers.get("content-type")?.startsWith("text/plain"));
      return await response.text();
    };
    try {
      // Without credentials (or with a wrong token) /metrics is refused: it names pools, IPs, sites.
      const wrong: Record<string, string>[] = [{}, {
        authorization: "Bearer wrong-token-0123456789",
      }];
      for (const headers of wrong) {
        const refused = await fetch(`${admin}/metrics`, { headers });
        assertEquals(refused.status, 401);
        await refused.body?.cancel();
      }
      const before = await promtoolCheck(await scrape());
      assertEquals(before.code, 0, before.output);

      await using prometheus = await startPrometheus(new URL(admin).host, TEST_API_TOKEN);
      try {
        // Scraped and up before the message: the rise is then seen by Prometheus itself.
        await waitUntil(() => prometheus.query('up{job="fastmta"} == 1'), {
          timeoutMs: 60_000,
          message: "Prometheus scraping fastmta",
        });
        const start = (await prometheus.query(DELIVERED)) ?? 0;
        await sendWithSwaks({
          server: server.smtpAddress,
          from: "sender@origin.test",
          to: [`rcpt@${E2E_DOMAIN}`],
          data: "Subject: metrics\r\n\r\nHello.\r\n",
        });
        await e2e.sink.waitForMessages(1, 30_000);
        const seen = await waitUntil(async () => {
          const value = await prometheus.query(DELIVERED);
          return value !== null && value > start ? value : null;
        }, { timeoutMs: 60_000, message: "the delivered counter rising in Prometheus" });
        assert(seen >= start + 1);
        // Each thread reports its counters to the main thread on its own beat: the accepted
        // counter (SMTP worker) may reach a later scrape than the delivered one.
        await waitUntil(async () => {
          const accepted = await prometheus.query("sum(fastmta_messages_accepted_total)");
          return accepted !== null && accepted >= 1;
        }, { timeoutMs: 60_000, message: "the accepted counter in Prometheus" });
      } catch (error) {
        console.error(`--- prometheus output ---\n${prometheus.output()}`);
        throw error;
      }

      // After mail went through every labelled series exists: check it all again.
      const after = await scrape();
      const checked = await promtoolCheck(after);
      assertEquals(checked.code, 0, checked.output);
      const missing = [...await dashboardMetricNames()].filter((name) =>
        !new RegExp(`^${name}(\\{| )`, "m").test(after)
      );
      assertEquals(missing, [], "metrics the Grafana dashboard queries but /metrics lacks");
    } catch (error) {
      e2e.dump();
      throw error;
    }
  },
});
