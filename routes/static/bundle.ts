/**
 * The island bundle. Built by `deno task build` (deno bundle) into static/islands.js and
 * committed, so a server running from source or a compiled binary needs no bundler at run time.
 */
let cached: string | null = null;

/** The browser bundle that hydrates islands. */
export async function islandsBundle(): Promise<string> {
  cached ??= await Deno.readTextFile(new URL("../../static/islands.js", import.meta.url));
  return cached;
}

let stylesheet: string | null = null;

/** uPlot's stylesheet (static/uplot.css: uplot/dist/uPlot.min.css of the version in deno.json). */
export async function chartStylesheet(): Promise<string> {
  stylesheet ??= await Deno.readTextFile(new URL("../../static/uplot.css", import.meta.url));
  return stylesheet;
}
