/**
 * The logged-in session as every component on a page sees it, without passing it down: the
 * page helper (routes/_page.tsx) provides it, components read it with `useSession()`.
 */
import { createContext } from "preact";
import { useContext } from "preact/hooks";

/** Who is looking at the page, and the CSRF token their forms carry. */
export interface PageSession {
  user: string;
  csrfToken: string;
  /** The user's role (core/manage/types.ts Role): pages hide controls it may not use. */
  role: string;
}

/** The request's session; null on pages shown logged out (the login form). */
export const SessionContext = createContext<PageSession | null>(null);

/** The session of the page being rendered, or null. */
export function useSession(): PageSession | null {
  return useContext(SessionContext);
}

/** Whether the page's user may change configuration (admin) or act on the queue (operator). */
export function useCan(): { operate: boolean; administer: boolean } {
  const role = useSession()?.role;
  return { operate: role === "admin" || role === "operator", administer: role === "admin" };
}
