/** The role sets routes admit (core/manage/types.ts `Role`): one list per kind of action. */
import { type Role, ROLES } from "../core/manage/types.ts";

/** Readers: everyone but senders. */
export const READERS: readonly Role[] = ["admin", "operator", "viewer"];
/** Queue actions, pauses and suppressions. */
export const OPERATORS: readonly Role[] = ["admin", "operator"];
/** Configuration changes. */
export const ADMINS: readonly Role[] = ["admin"];
/** Everyone with a role (logging out). */
export const ANYONE: readonly Role[] = ROLES;
