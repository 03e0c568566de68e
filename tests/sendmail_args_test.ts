/**
 * sendmail's command line and the header work of `-t`: flags in their joined and separate forms,
 * no-op flags ignored, unknown ones refused; To/Cc/Bcc addresses parsed (display names, groups,
 * folded lines); Bcc removed with the other bytes unchanged; a "." line ends the message.
 */
import { assertEquals, assertMatch } from "./helpers/assert.ts";
import { parseSendmailArgs } from "../cli/sendmail.ts";
import { untilDotLine } from "../cli/send_envelope.ts";
import { UsageError } from "../cli/_usage.ts";
import { headerAddresses, withoutHeaderFields } from "../core/mail/header_fields.ts";

function usageError(argv: string[]): string {
  try {
    parseSendmailArgs(argv);
  } catch (error) {
    if (error instanceof UsageError) return error.message;
    throw error;
  }
  throw new Error(`${argv.join(" ")} parsed`);
}

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

Deno.test("sendmail flags: -f joined or apart, -t, -i/-oi, no-ops, --", () => {
  const git = parseSendmailArgs(["-i", "-fme@a.test", "you@b.test", "them@b.test"]);
  assertEquals(git.options.from, "me@a.test");
  assertEquals(git.options.dotEnds, false);
  assertEquals(git.recipients, ["you@b.test", "them@b.test"]);
  const php = parseSendmailArgs(["-t", "-oi", "-odi", "-oem", "-f", "x@a.test", "-F", "X Y"]);
  assertEquals(php.options.headerRecipients, true);
  assertEquals(php.options.dotEnds, false);
  assertEquals(php.options.fullName, "X Y");
  assertEquals(php.recipients, []);
  const cron = parseSendmailArgs(["-FCronDaemon", "-odi", "-oem", "-oi", "-t"]);
  assertEquals(cron.options.fullName, "CronDaemon");
  const dashes = parseSendmailArgs(["-i", "-C", "/etc/f.json", "--", "-odd@b.test"]);
  assertEquals(dashes.recipients, ["-odd@b.test"]);
  assertEquals(dashes.configPath, "/etc/f.json");
  assertEquals(parseSendmailArgs(["-N", "never", "-bm", "a@b.test"]).recipients, ["a@b.test"]);
  assertEquals(parseSendmailArgs(["a@b.test"]).options.dotEnds, true);
  assertMatch(usageError(["-bp"]), /^Unknown flag "-bp"/);
  assertEquals(usageError(["-f"]), 'Flag "-f" needs a value');
});

Deno.test("-t: addresses of To, Cc and Bcc; Bcc removed, other fields byte for byte", () => {
  const message = bytes(
    'To: "Doe, J" <j@x.test>,\r\n k@y.test (K)\r\nCc: Team: a@z.test, b@z.test;\r\n' +
      "Subject: s\r\nbcc: hidden@x.test,\r\n\tother@x.test\r\nX: y\r\n\r\nTo: body@not.test\r\n",
  );
  assertEquals(headerAddresses(message, ["To", "Cc", "Bcc"]), [
    "j@x.test",
    "k@y.test",
    "a@z.test",
    "b@z.test",
    "hidden@x.test",
    "other@x.test",
  ]);
  assertEquals(
    text(withoutHeaderFields(message, ["Bcc"])),
    'To: "Doe, J" <j@x.test>,\r\n k@y.test (K)\r\nCc: Team: a@z.test, b@z.test;\r\n' +
      "Subject: s\r\nX: y\r\n\r\nTo: body@not.test\r\n",
  );
});

Deno.test("without -i a line with a single '.' ends the message", () => {
  assertEquals(text(untilDotLine(bytes("a\r\n.\r\nb\r\n"))), "a\r\n");
  assertEquals(text(untilDotLine(bytes("a\n.\nb\n"))), "a\n");
  assertEquals(text(untilDotLine(bytes("a\n..\nb\n"))), "a\n..\nb\n");
  assertEquals(text(untilDotLine(bytes("a\n.b\n"))), "a\n.b\n");
});
