/**
 * SMTP authentication: user accounts, password hashing, sealed CRAM-MD5 secrets. See
 * users.ts for the entry points and secret_box.ts for the CRAM-MD5 trade-off.
 */
export { DEFAULT_ITERATIONS, hashPassword, verifyPassword } from "./password.ts";
export { loadSecretKey, open, seal } from "./secret_box.ts";
export {
  addUser,
  type AuthenticatorOptions,
  type AuthMechanism,
  type AuthRequest,
  changePassword,
  SmtpAuthenticator,
  type UserOptions,
  validatePassword,
  validateUsername,
} from "./users.ts";
