/**
 * Issue 18, the REST API's input as a black-box probe sent it, on a real server delivering to a
 * real sink: a bare CR inside `raw` reaches the next hop as CRLF (as a bare LF does); CR or LF
 * in any field that becomes a header line (subject, headers, from, to) is a 400 naming the
 * field and nothing is queued; injection-looking text in the list and lookup parameters gives
 * ordinary answers.
 */
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { E2E_DOMAIN, startE2eFixture } from "./helpers/e2e_fixture.ts";
import { runCli, TEST_API_TOKEN } from "./helpers/server_process.ts";
import { hasOnlyCrlf } from "../core/line_ends.ts";

const INJECTIONS = [
  "' OR '1'='1",
  "1; DROP TABLE messages; --",
  '"); DELETE FROM recipients; --',
  "%' OR 1=1 --",
  "<script>alert(1)</script>",
  "${7*7}",
  "\\x00",
  "../../etc/passwd",
];

Deno.test("REST API: bare CR normalised, header-bound CR/LF refused, search text inert", async () => {
  await using e2e = await startE2eFixture({ prefix: "fastmta-hygiene-" });
  const config = e2e.nodeConfig();
  const configPath = await e2e.writeConfig(config);
  assertEquals((await runCli(["migrate", "--config", configPath])).code, 0);
  const added = await runCli(["apikey", "add", "probe", "--config", configPath]);
  assertEquals(added.code, 0, added.stderr);
  const key = added.stdout.trim();
  const server = await e2e.start(config);
  const send = (body: unknown) =>
    fetch(`${server.adminUrl}/api/v1/messages`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  const api = async (path: string) => {
    const response = await fetch(`${server.adminUrl}${path}`, {
      headers: { authorization: `Bearer ${TEST_API_TOKEN}` },
    });
    return { status: response.status, body: await response.json() };
  };

  // A bare CR in a header and in the body: CRLF on the wire, nothing else changed.
  const raw = `From: <a@origin.test>\r\nTo: <one@${E2E_DOMAIN}>\r\nSubject: cr\rX-Probe: ` +
    `planted\r\n\r\nline one\rline two\r\n`;
  const accepted = await send({ from: "a@origin.test", to: [`one@${E2E_DOMAIN}`], raw });
  assertEquals(accepted.status, 202, await accepted.clone().text());
  await accepted.body?.cancel();
  const [delivered] = await e2e.sink.waitForMessages(1);
  assert(hasOnlyCrlf(delivered.data), `no bare CR or LF on the wire: ${delivered.text()}`);
  assertMatch(delivered.text(), /Subject: cr\r\nX-Probe: planted\r\n/);
  assertMatch(delivered.text(), /line one\r\nline two\r\n/);

  // CR/LF in a field that becomes a header line: 400 naming the field.
  const base = { from: "a@origin.test", to: [`one@${E2E_DOMAIN}`], text: "hello" };
  const refused: [Record<string, unknown>, RegExp][] = [
    [{ ...base, subject: "hi\r\nBcc: victim@else.test" }, /"subject": CR and LF/],
    [{ ...base, subject: "hi\nBcc: victim@else.test" }, /"subject": CR and LF/],
    [{ ...base, subject: "hi\rBcc: victim@else.test" }, /"subject": CR and LF/],
    [{ ...base, headers: { "X-A": "1\nBcc: victim@else.test" } }, /"headers\.X-A": CR and LF/],
    [{ ...base, headers: { "X-A\r\nBcc": "x" } }, /"headers": .* is not a header name/],
    [{ ...base, from: "a@origin.test\r\nBcc: v@else.test" }, /invalid "from"/],
    [{ ...base, to: [`one@${E2E_DOMAIN}\r\nBcc: v@else.test`] }, /invalid recipient/],
    [{ ...base, pool: "p\r\nX: y" }, /invalid "pool": control characters/],
  ];
  for (const [body, reason] of refused) {
    const response = await send(body);
    const answer = await response.json();
    assertEquals(response.status, 400, JSON.stringify(body));
    assertMatch(answer.detail, reason);
  }
  assertEquals((await api("/api/v1/queue")).body.delivered, 1, "nothing else was queued");

  // Injection-looking text in list and lookup parameters: ordinary answers, data intact.
  for (const text of INJECTIONS) {
    const q = encodeURIComponent(text);
    // A cursor is opaque: a made-up one is a 400 naming it, or an ordinary (empty) page.
    const list = await api(`/api/v1/messages?cursor=${q}`);
    assert(list.status === 200 || list.status === 400, `cursor=${text}: ${list.status}`);
    if (list.status === 200) assert(Array.isArray(list.body.items), JSON.stringify(list.body));
    else assertMatch(list.body.detail ?? "", /cursor/i);
    // A nonsense limit is a 400 naming `limit` (the search validates its query).
    const limited = await api(`/api/v1/messages?limit=${q}`);
    assertEquals(limited.status, 400, `limit=${text}`);
    assertMatch(JSON.stringify(limited.body.errors ?? limited.body.detail), /limit/);
    const one = await api(`/api/v1/messages/${q}`);
    assert(one.status === 404 || one.status === 400, `id ${text}: ${one.status}`);
    const attempts = await api(`/api/v1/attempts?limit=${q}`);
    assert(attempts.status === 200 || attempts.status === 400, `limit ${text}`);
  }
  const all = await api("/api/v1/messages");
  assertEquals(all.body.items.length, 1, "the stored message is still there");
});
