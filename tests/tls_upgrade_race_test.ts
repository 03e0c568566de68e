/**
 * The SMTP worker's guard against Deno's STARTTLS-upgrade race (core/inbound/tls_upgrade_race.ts)
 * matches that one runtime error and nothing else: any other uncaught error still ends the worker.
 */
import { assert } from "./helpers/assert.ts";
import { isTlsUpgradeRace } from "../core/inbound/tls_upgrade_race.ts";

function errorWith(message: string, stack: string, kind = TypeError): Error {
  const error = new kind(message);
  error.stack = `${kind.name}: ${message}\n${stack}`;
  return error;
}

Deno.test("tls upgrade race: the runtime's initRead TypeError is recognised", () => {
  const race = errorWith(
    "Cannot read properties of null (reading 'receive')",
    "    at initRead (ext:deno_node/_tls_wrap.js:1:6357)\n" +
      "    at processTicksAndRejections (ext:core/01_core.js:378:17)",
  );
  assert(isTlsUpgradeRace(race));
});

Deno.test("tls upgrade race: other errors are not swallowed", () => {
  const ours = errorWith(
    "Cannot read properties of null (reading 'receive')",
    "    at handle (file:///app/core/inbound/smtp.ts:10:5)",
  );
  assert(!isTlsUpgradeRace(ours), "same message from our code");
  const other = errorWith(
    "Cannot read properties of null (reading 'write')",
    "    at initRead (ext:deno_node/_tls_wrap.js:1:6357)",
  );
  assert(!isTlsUpgradeRace(other), "another property");
  const notType = errorWith(
    "Cannot read properties of null (reading 'receive')",
    "    at initRead (ext:deno_node/_tls_wrap.js:1:6357)",
    Error as unknown as typeof TypeError,
  );
  assert(!isTlsUpgradeRace(notType), "not a TypeError");
  assert(!isTlsUpgradeRace("a string"));
});
