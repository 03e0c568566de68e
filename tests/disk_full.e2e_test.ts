/**
 * Issue 18: the data folder's disk fills up under a running server (a small tmpfs; needs root to
 * mount, skipped otherwise). While it is full, SMTP answers 4xx (never 250), `/healthz` says
 * degraded with `storage_full`, the log names the real cause (SQLITE_FULL's "database or disk is
 * full"), and an outcome the sink already accepted is held: once space is back it is settled,
 * so the next start delivers nothing again.
 */
import { DatabaseSync } from "node:sqlite";
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { E2E_DOMAIN, startE2eFixture } from "./helpers/e2e_fixture.ts";
import { runCli, sendWithSwaks } from "./helpers/server_process.ts";
import { waitUntil } from "./helpers/wait.ts";

function canMount(): boolean {
  try {
    return Deno.uid() === 0 &&
      new Deno.Command("mount", { args: ["--version"], stdout: "null", stderr: "null" })
        .outputSync().success;
  } catch {
    return false;
  }
}

function run(cmd: string, args: string[]) {
  const out = new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).outputSync();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/** Fills the file system of `dir` to the last byte. */
function fill(dir: string) {
  const file = Deno.openSync(`${dir}/filler`, { create: true, write: true, append: true });
  const block = new Uint8Array(64 * 1024);
  try {
    for (;;) file.writeSync(block);
  } catch {
    // ENOSPC: full; now the last few bytes
    for (let size = 4096; size >= 1; size = Math.floor(size / 2)) {
      try {
        for (;;) file.writeSync(block.subarray(0, size));
      } catch {
        // next smaller
      }
    }
  } finally {
    file.close();
  }
}

function message(subject: string, bodyBytes = 100): string {
  return `From: a@origin.test\r\nTo: r@${E2E_DOMAIN}\r\nSubject: ${subject}\r\n\r\n` +
    `${"x".repeat(bodyBytes)}\r\n`;
}

Deno.test({
  name: "disk full: 4xx at the door, degraded health, the settle held until space is back",
  ignore: !canMount(),
  fn: async () => {
    let release = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    let held = 0;
    await using e2e = await startE2eFixture({
      prefix: "fastmta-full-",
      sinkReply: async (ctx) => {
        if (
          ctx.command !== "DATA_END" || !/Subject: held/.test(new TextDecoder().decode(ctx.data))
        ) {
          return undefined;
        }
        held++;
        await gate;
        return undefined;
      },
    });
    const mnt = `${e2e.dir}/mnt`;
    await Deno.mkdir(mnt);
    // Room above /readyz's 64 MiB free-space floor once the filler is gone.
    run("mount", ["-t", "tmpfs", "-o", "size=96m", "tmpfs", mnt]);
    try {
      const config = e2e.nodeConfig();
      config.data_dir = `${mnt}/data`;
      config.database = { driver: "sqlite3", connection: `${mnt}/data/fastmta.db` };
      const configPath = await e2e.writeConfig(config);
      const server = await e2e.start(config);
      const send = (subject: string, bytes?: number) =>
        sendWithSwaks({
          server: server.smtpAddress,
          from: "a@origin.test",
          to: [`r@${E2E_DOMAIN}`],
          data: message(subject, bytes),
        });
      const health = async () => {
        const r = await fetch(`${server.adminUrl}/healthz`);
        return { status: r.status, body: await r.json() };
      };
      const ready = async () => {
        const r = await fetch(`${server.adminUrl}/readyz`);
        return { status: r.status, body: await r.json() };
      };

      assertEquals((await send("before")).code, 0);
      await e2e.sink.waitForMessages(1);
      assertEquals((await send("held")).code, 0);
      await waitUntil(() => held === 1, { message: "the held delivery is in flight" });

      // Fill the disk; the WAL is checkpointed and truncated first, so that every write needs
      // new space (a WAL big enough from earlier writes would take small ones).
      const db = new DatabaseSync(`${mnt}/data/fastmta.db`);
      db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
      db.close();
      fill(mnt);

      // The sink accepts the held message now; its settle cannot be written.
      release();
      await e2e.sink.waitForMessages(2);
      await waitUntil(() => /database or disk is full/.test(server.logs()), {
        message: "the log names the real cause",
      });
      assert(!/cannot rollback - no transaction is active/.test(server.logs()), server.logs());

      const refused = await send("while full", 300_000);
      assert(refused.code !== 0, "not accepted while full");
      assertMatch(refused.stdout, /<\*\* 4\d\d /, "a 4xx reply, never 250");
      const notReady = await waitUntil(async () => {
        const r = await ready();
        return r.status === 503 ? r : null;
      }, { message: "/readyz 503 while full" });
      // The data folder's write check, and the database once the main thread's store writes.
      assert(notReady.body.not_ready.length > 0, JSON.stringify(notReady.body));
      const degraded = await waitUntil(async () => {
        const h = await health();
        return h.body.database.storage_full ? h : null;
      }, { message: "/healthz reports the full disk" });
      assertEquals(degraded.status, 200, "the process is up");
      assertEquals(degraded.body.status, "degraded");
      assertEquals(degraded.body.database.storage_full, true);

      // Space comes back: the held settle goes through, mail is accepted again.
      await Deno.remove(`${mnt}/filler`);
      await waitUntil(async () => {
        const out = await runCli(["queue", "--config", configPath, "--json"]);
        return out.code === 0 && JSON.parse(out.stdout).delivered === 2;
      }, { timeoutMs: 60_000, message: "the held outcome is settled once there is space" });
      let last = "";
      await waitUntil(async () => {
        const r = await ready();
        last = JSON.stringify(r.body);
        return r.status === 200;
      }, { message: "ready again" }).catch((error) => {
        throw new Error(`${error.message}: ${last}`);
      });
      assertEquals((await health()).body.database.storage_full, false);
      assertEquals((await send("after")).code, 0);
      await e2e.sink.waitForMessages(3);
      assertEquals((await server.stop()).code, 0, server.logs());

      // The next start delivers nothing again.
      const again = await e2e.start(config);
      assert(!/re-queued \d+ units left in flight/.test(again.logs()), again.logs());
      const out = await runCli(["queue", "--config", configPath, "--json"]);
      const counts = JSON.parse(out.stdout);
      assertEquals(counts.delivered, 3, out.stdout);
      assertEquals(counts.queued ?? 0, 0, out.stdout);
      assertEquals(e2e.sink.messages.filter((m) => /Subject: held/.test(m.text())).length, 1);
      await again.stop();
    } finally {
      for (const server of e2e.servers) await server.stop().catch(() => {});
      run("umount", ["-l", mnt]);
    }
  },
});
