/**
 * Issue 18, "no traffic nobody asked for": a server in a network namespace of its own, whose
 * config names only loopback services, takes and tries to deliver mail and serves its console
 * while tcpdump captures every packet in the namespace. A dummy interface with a default route
 * is there so that any packet to anywhere else (a DNS server from /etc/resolv.conf, an update
 * check, telemetry) would leave and be seen (a veth pair: the kernel module for dummy links may
 * be missing); a control packet proves the capture sees it. Every
 * other packet must be between loopback addresses. Needs root, `ip` and `tcpdump` (skipped
 * otherwise; .ci/run installs tcpdump).
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { repoRoot, runCli } from "./helpers/server_process.ts";
import { tempDir } from "./helpers/net.ts";
import { waitUntil } from "./helpers/wait.ts";

const TOKEN = "netns-test-token-0123456789";

function has(command: string): boolean {
  return new Deno.Command("sh", { args: ["-c", `command -v ${command}`], stdout: "null" })
    .outputSync().success;
}

const usable = Deno.build.os === "linux" && Deno.uid() === 0 && has("ip") && has("tcpdump");

function sh(args: string[]): string {
  const out = new Deno.Command(args[0], { args: args.slice(1), stdout: "piped", stderr: "piped" })
    .outputSync();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`${args.join(" ")}: ${text}`);
  return text;
}

/** Source and destination addresses of each packet in a capture (`tcpdump -nn -r`). */
function packets(pcap: string): { line: string; from: string; to: string }[] {
  const text = sh(["tcpdump", "-nn", "-r", pcap]);
  const found: { line: string; from: string; to: string }[] = [];
  for (const line of text.split("\n")) {
    const m = / IP6? (\S+?)(?:\.\d+)? > (\S+?)(?:\.\d+)?: /.exec(line);
    if (m) found.push({ line, from: m[1], to: m[2] });
    else if (/^\d/.test(line)) found.push({ line, from: "?", to: "?" }); // ARP and the like
  }
  return found;
}

const loopback = (address: string) => address.startsWith("127.") || address === "::1";

Deno.test({
  name: "a server configured for loopback sends no packet anywhere else",
  ignore: !usable,
  fn: async () => {
    await using dir = tempDir("fastmta-netns-");
    const ns = `fmta-${crypto.randomUUID().slice(0, 8)}`;
    const exec = (...args: string[]) => ["ip", "netns", "exec", ns, ...args];
    sh(["ip", "netns", "add", ns]);
    let tcpdump: Deno.ChildProcess | null = null;
    let server: Deno.ChildProcess | null = null;
    try {
      sh(exec("ip", "link", "set", "lo", "up"));
      // A veth pair inside the namespace: "out" holds 10.99.0.1 and the default route to a
      // neighbour (10.99.0.2, its peer's MAC, so nothing waits on ARP) that answers nothing.
      const [out, peer] = ["fmtaO", "fmtaP"].map((n) => `${n}${ns.slice(5, 10)}`);
      sh([
        "ip",
        "link",
        "add",
        out,
        "netns",
        ns,
        "type",
        "veth",
        "peer",
        "name",
        peer,
        "netns",
        ns,
      ]);
      for (const name of [out, peer]) {
        sh(exec("sysctl", "-q", "-w", `net.ipv6.conf.${name}.disable_ipv6=1`));
        sh(exec("ip", "link", "set", name, "up"));
      }
      sh(exec("ip", "addr", "add", "10.99.0.1/24", "dev", out));
      const mac = /link\/ether (\S+)/.exec(sh(exec("ip", "link", "show", peer)))![1];
      sh(exec("ip", "neigh", "add", "10.99.0.2", "lladdr", mac, "dev", out));
      sh(exec("ip", "route", "add", "default", "via", "10.99.0.2", "dev", out));

      const pcap = `${dir.path}/capture.pcap`;
      tcpdump = new Deno.Command("ip", {
        args: ["netns", "exec", ns, "tcpdump", "-i", "any", "-nn", "-U", "-w", pcap],
        stdout: "null",
        stderr: "piped",
      }).spawn();
      // The control packet: tcpdump is up when it sees it.
      await waitUntil(() => {
        new Deno.Command("ip", {
          args: ["netns", "exec", ns, "bash", "-c", "echo x > /dev/udp/10.99.0.2/9"],
          stdout: "null",
          stderr: "null",
        }).outputSync();
        try {
          return packets(pcap).some((p) => p.to === "10.99.0.2");
        } catch {
          return false;
        }
      }, { message: "tcpdump sees the control packet" });

      const config = {
        id: "netns",
        data_dir: `${dir.path}/data`,
        smtp: { listen: ["127.0.0.1:2525"], hostname: "mx.netns.test", workers: 1 },
        admin: { listen: "127.0.0.1:8025", api_tokens: [TOKEN] },
        dns: { servers: ["127.0.0.1:5353"] },
        routes: { "routed.test": { host: "127.0.0.1", port: 2526 } },
        delivery: { workers: 1, retry_schedule: ["1h"] },
      };
      await Deno.writeTextFile(`${dir.path}/app.json`, JSON.stringify(config));
      // The schema is made outside the namespace (the CLI opens no socket for SQLite anyway).
      const migrated = await runCli(["migrate", "--config", `${dir.path}/app.json`]);
      assertEquals(migrated.code, 0, migrated.stderr);
      server = new Deno.Command("ip", {
        args: [
          ...["netns", "exec", ns, "env", "DENO_NO_UPDATE_CHECK=1"],
          ...[Deno.execPath(), "run", "-A", "--config", `${repoRoot()}/deno.json`],
          ...[`${repoRoot()}/main.ts`, "serve", "--config", `${dir.path}/app.json`],
        ],
        cwd: dir.path,
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const curl = (path: string) =>
        new Deno.Command("ip", {
          args: [
            ...["netns", "exec", ns, "curl", "-s", "-H", `authorization: Bearer ${TOKEN}`],
            `http://127.0.0.1:8025${path}`,
          ],
          stdout: "piped",
          stderr: "null",
        }).outputSync();
      await waitUntil(() => curl("/healthz").success, { timeoutMs: 60_000, message: "up" });

      // Mail in: one recipient by the transport map, one by MX (DNS on loopback only).
      const swaks = new Deno.Command("ip", {
        args: [
          ...["netns", "exec", ns, "swaks", "--server", "127.0.0.1:2525"],
          ...["--from", "a@origin.test", "--to", "r@routed.test,r@dns.test"],
        ],
        stdout: "piped",
        stderr: "piped",
      }).outputSync();
      assert(swaks.success, new TextDecoder().decode(swaks.stdout));
      // Both units were tried (refused by the dead route; no DNS answer for the other).
      await waitUntil(() => {
        const out = curl("/api/v1/attempts");
        if (!out.success) return false;
        const body = JSON.parse(new TextDecoder().decode(out.stdout));
        return (Array.isArray(body) ? body : body.items ?? []).length >= 2;
      }, { timeoutMs: 60_000, message: "both deliveries were attempted" });
      assert(curl("/login").success);

      server.kill("SIGTERM");
      assertEquals((await server.status).code, 0);
      server = null;
      tcpdump.kill("SIGINT");
      await tcpdump.status;
      tcpdump = null;

      const seen = packets(pcap);
      const stray = seen.filter((p) =>
        !(loopback(p.from) && loopback(p.to)) && !(p.from === "10.99.0.1" && p.to === "10.99.0.2")
      );
      assertEquals(stray.map((p) => p.line), [], "packets to addresses nobody configured");
      assert(seen.some((p) => p.to === "127.0.0.1" && /\.2526: /.test(p.line)), "delivery tried");
      assert(seen.some((p) => /\.5353: /.test(p.line)), "DNS asked on the configured server");
    } finally {
      server?.kill("SIGKILL");
      await server?.status;
      tcpdump?.kill("SIGKILL");
      await tcpdump?.status;
      await server?.stdout.cancel().catch(() => {});
      try {
        sh(["ip", "netns", "del", ns]);
      } catch {
        // already gone
      }
    }
  },
});
