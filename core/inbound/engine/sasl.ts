/**
 * AUTH mechanisms of the own SMTP engine (RFC 4954): PLAIN (RFC 4616), LOGIN and CRAM-MD5
 * (RFC 2195, checked through `validatePassword` so the secret never leaves the handler). The
 * exchanges, reply texts and the `onAuth` contract are those of npm `smtp-server`.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type {
  SMTPServerAuthentication,
  SMTPServerAuthenticationResponse,
  SMTPServerSession,
} from "smtp-server";

// deno-lint-ignore no-control-regex
const CONTROL = /[\x00-\x1F\x7F-\x9F]/;

/** What a mechanism needs from the connection. */
export interface SaslHost {
  readonly name: string;
  readonly session: SMTPServerSession;
  send(code: number, text?: string): void;
  /** The handler of the client's next line (a continuation), instead of a command. */
  expect(next: (line: string, done: () => void) => void): void;
  onAuth(
    auth: SMTPServerAuthentication,
    session: SMTPServerSession,
    callback: (error?: Error | null, response?: SMTPServerAuthenticationResponse) => void,
  ): void;
  /** Called once a user is authenticated. */
  authenticated(user: unknown): void;
}

/** The mechanisms this engine implements. */
export const MECHANISMS = ["PLAIN", "LOGIN", "CRAM-MD5"];

const decode = (text: string) => Buffer.from(text, "base64").toString();

/** An AUTH request; only CRAM-MD5's has `validatePassword`. */
type AuthRequest = Omit<SMTPServerAuthentication, "validatePassword"> & {
  validatePassword?: (password: string) => boolean;
};

function verify(host: SaslHost, auth: AuthRequest, done: () => void): void {
  host.onAuth(auth as SMTPServerAuthentication, host.session, (error, response) => {
    if (error) {
      host.send((error as { responseCode?: number }).responseCode || 535, error.message);
      return done();
    }
    if (!response?.user) {
      host.send(
        response?.responseCode || 535,
        response?.message || "Error: Authentication credentials invalid",
      );
      return done();
    }
    host.authenticated(response.user);
    host.send(235, "Authentication successful");
    done();
  });
}

function aborted(host: SaslHost, line: string, done: () => void): boolean {
  if (line.trim() !== "*") return false;
  host.send(501, "Authentication aborted");
  done();
  return true;
}

function plainToken(host: SaslHost, token: string, done: () => void): void {
  const data = decode(token.trim()).split("\x00");
  if (data.length !== 3) {
    host.send(501, "Error: invalid userdata");
    return done();
  }
  const [authzid, authcid, password] = data;
  const username = authcid || authzid;
  if (CONTROL.test(username) || CONTROL.test(authzid)) {
    host.send(501, "Error: invalid userdata");
    return done();
  }
  verify(host, { method: "PLAIN", username, authcid, authzid, password }, done);
}

function loginUsername(host: SaslHost, line: string, done: () => void): void {
  const username = decode(line.trim());
  if (!username) {
    host.send(501, "Error: missing username");
    return done();
  }
  if (CONTROL.test(username)) {
    host.send(501, "Error: invalid userdata");
    return done();
  }
  host.expect((password, next) => {
    if (aborted(host, password, next)) return;
    verify(host, { method: "LOGIN", username, password: decode(password.trim()) }, next);
  });
  host.send(334, "UGFzc3dvcmQ6");
  done();
}

function cramToken(host: SaslHost, challenge: string, line: string, done: () => void): void {
  const parts = decode(line.trim()).split(" ");
  const username = parts.shift() ?? "";
  const answer = (parts.shift() ?? "").toLowerCase();
  if (CONTROL.test(username)) {
    host.send(501, "Error: invalid userdata");
    return done();
  }
  const auth = {
    method: "CRAM-MD5" as const,
    username,
    challenge,
    challengeResponse: answer,
    validatePassword(password: string): boolean {
      const expected = Buffer.from(
        createHmac("md5", password).update(challenge).digest("hex").toLowerCase(),
      );
      const received = Buffer.from(answer);
      return expected.length === received.length && timingSafeEqual(expected, received);
    },
  };
  verify(host, auth, done);
}

/** Runs `AUTH <mechanism> [initial response]` (the mechanism is one of MECHANISMS). */
export function startAuth(host: SaslHost, mechanism: string, args: string[], done: () => void) {
  switch (mechanism) {
    case "PLAIN":
      if (args.length > 1) {
        host.send(501, "Error: syntax: AUTH PLAIN token");
        return done();
      }
      if (args.length === 1) return plainToken(host, args[0], done);
      host.expect((line, next) => aborted(host, line, next) || plainToken(host, line, next));
      host.send(334);
      return done();
    case "LOGIN":
      if (args.length > 1) {
        host.send(501, "Error: syntax: AUTH LOGIN");
        return done();
      }
      if (args.length === 1) return loginUsername(host, args[0], done);
      host.expect((line, next) => aborted(host, line, next) || loginUsername(host, line, next));
      host.send(334, "VXNlcm5hbWU6");
      return done();
    default: {
      if (args.length) {
        host.send(501, "Error: syntax: AUTH CRAM-MD5");
        return done();
      }
      const stamp = Math.floor(Date.now() / 1000);
      const challenge = `<${randomBytes(16).toString("hex")}.${stamp}@${host.name}>`;
      host.expect((line, next) =>
        aborted(host, line, next) || cramToken(host, challenge, line, next)
      );
      host.send(334, Buffer.from(challenge).toString("base64"));
      return done();
    }
  }
}
