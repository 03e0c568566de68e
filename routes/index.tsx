/** The landing page: says the server is up and shows queue counts. */
import { render } from "preact-render-to-string";
import type { AdminContext } from "./mod.ts";

/** Renders the status page as an HTML document. */
export async function statusPage(ctx: AdminContext): Promise<string> {
  const counts = await ctx.store.counts(Date.now());
  const page = (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <title>fastmta — {ctx.config.nodeName}</title>
      </head>
      <body style="font-family: system-ui, sans-serif; margin: 2rem">
        <h1>fastmta is up</h1>
        <p>
          Node <b>{ctx.config.nodeName}</b> ({ctx.config.nodeId}), running since{" "}
          {new Date(ctx.startedAt).toISOString()}.
        </p>
        <table>
          <tbody>
            {Object.entries(counts).map(([state, n]) => (
              <tr>
                <td>{state}</td>
                <td style="text-align: right">{n}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </body>
    </html>
  );
  return "<!doctype html>" + render(page);
}
