/**
 * DKIM: keys per (domain, selector) in the store, sealed at rest, and signing of outgoing mail
 * by its From domain (see sign.ts for the policy on failures).
 */
export {
  addGeneratedKey,
  type DkimAlgorithm,
  dnsRecordValue,
  type GeneratedKey,
  generateDkimKey,
  keyAad,
  MasterKey,
  type NewKeyRequest,
  openPrivateKey,
  zoneFileRecord,
} from "./keys.ts";
export { DkimSigner, type DkimSignerOptions, fromDomain, type SignResult, toCrlf } from "./sign.ts";
export { type DkimSignHook, dkimSignHook } from "./hook.ts";
