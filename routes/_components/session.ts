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
}

/** The request's session; null on pages shown logged out (the login form). */
export const SessionContext = createContext<PageSession | null>(null);

/** The session of the page being rendered, or null. */
export function useSession(): PageSession | null {
  return useContext(SessionContext);
}
