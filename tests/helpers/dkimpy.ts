/**
 * A second, fully independent DKIM verifier for tests: Python's dkimpy (Debian `python3-dkim`,
 * installed by `.ci/run`), run on the system Python with DNS answered from a map. It shares no
 * code with npm `mailauth`, which both signs in the server and verifies in `dkim_verify.ts`.
 *
 * @module
 */

const PYTHON = "/usr/bin/python3";

const SCRIPT = `
import json, sys, dkim
msg = sys.stdin.buffer.read()
records = json.loads(sys.argv[1])
def dnsfunc(name, timeout=5):
    key = (name.decode() if isinstance(name, bytes) else name).rstrip(".").lower()
    value = records.get(key)
    return value.encode() if value else None
d = dkim.DKIM(msg)
count = sum(1 for line in msg.split(b"\\r\\n") if line.lower().startswith(b"dkim-signature:"))
out = []
for i in range(count):
    try:
        out.append("pass" if d.verify(idx=i, dnsfunc=dnsfunc) else "fail")
    except Exception as e:
        out.append("error: %s" % e)
print(json.dumps(out))
`;

/** Whether dkimpy is installed (`python3-dkim`). */
export async function hasDkimpy(): Promise<boolean> {
  try {
    const out = await new Deno.Command(PYTHON, {
      args: ["-c", "import dkim, nacl"],
      stdout: "null",
      stderr: "null",
    }).output();
    return out.success;
  } catch {
    return false;
  }
}

/** Verifies each DKIM-Signature of `message` in order: "pass", "fail" or "error: …". */
export async function verifyWithDkimpy(
  message: Uint8Array,
  records: Map<string, string>,
): Promise<string[]> {
  const child = new Deno.Command(PYTHON, {
    args: ["-c", SCRIPT, JSON.stringify(Object.fromEntries(records))],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(message);
  await writer.close();
  const out = await child.output();
  if (!out.success) throw new Error(`dkimpy failed: ${new TextDecoder().decode(out.stderr)}`);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}
