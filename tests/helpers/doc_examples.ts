/**
 * Finds the examples of Markdown documents: fenced blocks, with an optional marker comment on
 * the line before the fence (blank lines between allowed):
 *
 * - `<!-- example: skip (why) -->` — a shell block that is not run (needs a server, changes the
 *   machine); the reason is required.
 * - `<!-- example: file NAME -->` — a block whose text is written to NAME before the shell
 *   blocks that follow it run.
 *
 * Every other ```sh block is run, one command at a time, by tests/docs_examples.e2e_test.ts.
 */

/** One fenced block. */
export interface Example {
  /** 1-based line of the opening fence. */
  line: number;
  /** The info string's first word: "sh", "json", "" … */
  lang: string;
  body: string;
  /** Why a shell block is not run, from its marker. */
  skip: string | null;
  /** The file a block is written to, from its marker. */
  file: string | null;
}

const MARKER = /^<!--\s*example:\s*(.*?)\s*-->$/;
const SHELLS = new Set(["sh", "bash", "shell"]);

/** Whether the block is a shell example. */
export function isShell(example: Example): boolean {
  return SHELLS.has(example.lang);
}

/** The fenced blocks of `markdown` with their markers; throws on a marker it cannot read. */
export function extractExamples(markdown: string, name: string): Example[] {
  const lines = markdown.split("\n");
  const examples: Example[] = [];
  let marker: { text: string; line: number } | null = null;
  for (let i = 0; i < lines.length; i++) {
    const text = lines[i].trim();
    const found = MARKER.exec(text);
    if (found) {
      marker = { text: found[1], line: i + 1 };
      continue;
    }
    const fence = /^(`{3,})\s*(\S*)/.exec(text);
    if (!fence) {
      if (text !== "") marker = null;
      continue;
    }
    const end = lines.findIndex((l, j) => j > i && l.trim().startsWith(fence[1]));
    if (end < 0) throw new Error(`${name}:${i + 1}: the fence is never closed`);
    const example: Example = {
      line: i + 1,
      lang: fence[2],
      body: lines.slice(i + 1, end).join("\n"),
      skip: null,
      file: null,
    };
    if (marker) {
      const skip = /^skip\s*\((.+)\)$/.exec(marker.text);
      const file = /^file\s+(\S+)$/.exec(marker.text);
      if (skip && isShell(example)) example.skip = skip[1];
      else if (file) example.file = file[1];
      else throw new Error(`${name}:${marker.line}: cannot use marker "${marker.text}" here`);
    }
    examples.push(example);
    marker = null;
    i = end;
  }
  return examples;
}

/** The commands of a shell block: comment lines dropped, `\` continuations joined. */
export function shellCommands(body: string): string[] {
  const commands: string[] = [];
  let current = "";
  for (const line of body.split("\n")) {
    if (current === "" && (line.trim() === "" || line.trim().startsWith("#"))) continue;
    if (line.endsWith("\\")) {
      current += line.slice(0, -1) + " ";
      continue;
    }
    commands.push(current + line);
    current = "";
  }
  if (current !== "") commands.push(current);
  return commands;
}
