/** What every logged-in page receives. */
export interface PageContext {
  user: string;
  csrfToken: string;
}
