/** Links between the README and docs/ pages point at files and headings that exist. */
import { dirname, join, normalize } from "node:path";
import { assertEquals } from "./helpers/assert.ts";

const ROOT = new URL("..", import.meta.url).pathname;

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}_\- ]/gu, "").replaceAll(" ", "-");
}

function withoutCode(markdown: string): string {
  return markdown.replace(/^```[\s\S]*?^```/gm, "").replace(/`[^`\n]*`/g, "");
}

Deno.test("every relative link of the README and docs/ resolves, anchors included", async () => {
  const pages = ["README.md"];
  for await (const entry of Deno.readDir(join(ROOT, "docs"))) {
    if (entry.name.endsWith(".md")) pages.push(`docs/${entry.name}`);
  }
  const texts = new Map<string, string>();
  for (const page of pages) texts.set(page, await Deno.readTextFile(join(ROOT, page)));
  const anchors = (page: string) =>
    new Set(
      [...(texts.get(page) ?? "").replace(/^```[\s\S]*?^```/gm, "").matchAll(/^#+ (.*)$/gm)]
        .map((m) => slug(m[1])),
    );
  const broken: string[] = [];
  for (const [page, text] of texts) {
    for (const [, link] of withoutCode(text).matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(link)) continue;
      const [path, anchor] = link.split("#");
      const target = path ? normalize(join(dirname(page), path)) : page;
      const exists = await Deno.stat(join(ROOT, target)).then(() => true, () => false);
      if (!exists) broken.push(`${page}: ${link} (no such file)`);
      else if (anchor && target.endsWith(".md") && !anchors(target).has(anchor)) {
        broken.push(`${page}: ${link} (no such heading)`);
      }
    }
  }
  assertEquals(broken, []);
});
