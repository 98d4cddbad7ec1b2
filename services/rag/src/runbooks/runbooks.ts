// Runbooks: markdown files under a folder, split at their headings into sections that are indexed and cited as file#anchor.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import type { RunbookSection } from "@x0/shared";

/** Longest section text kept (the rest of a very long section is still found through its start). */
const SECTION_CHARS = 16_384;

/** The GitHub-style anchor of a heading: lower case, punctuation dropped, spaces to hyphens. */
export function anchorOf(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, "")
    .trim()
    .replace(/ /g, "-");
}

/** Splits one markdown file at its headings; text before the first heading belongs to the file's title. */
export function splitMarkdown(file: string, markdown: string): RunbookSection[] {
  const sections: RunbookSection[] = [];
  const trail: string[] = [];
  let heading = file;
  let context = "";
  let lines: string[] = [];
  let inFence = false;
  const flush = () => {
    const body = lines.join("\n").trim();
    // The headings above a section give it context ("Lossy link > Confirm"): part of what is matched.
    const text = context ? `${context}\n${body}` : body;
    if (body.length > 0) sections.push({ file, heading, anchor: anchorOf(heading), text: text.slice(0, SECTION_CHARS) });
    lines = [];
  };
  for (const line of markdown.split("\n")) {
    if (/^\s*(```|~~~)/.test(line)) inFence = !inFence;
    const match = inFence ? null : /^(#{1,6})\s+(.+?)\s*#*\s*$/.exec(line);
    if (!match) {
      lines.push(line);
      continue;
    }
    flush();
    const level = (match[1] as string).length;
    trail.length = level - 1;
    trail[level - 1] = match[2] as string;
    heading = match[2] as string;
    context = trail.filter(Boolean).join(" > ");
  }
  flush();
  return sections;
}

/** Every section of every `.md` file below `dir` (sorted by path), and a signature that changes when any file does. */
export function readRunbooks(dir: string): { sections: RunbookSection[]; signature: string } {
  const files = listMarkdown(dir);
  const sections: RunbookSection[] = [];
  const signature: string[] = [];
  for (const path of files) {
    const stat = statSync(path);
    const name = relative(dir, path);
    signature.push(`${name}:${stat.size}:${stat.mtimeMs}`);
    sections.push(...splitMarkdown(name, readFileSync(path, "utf8")));
  }
  return { sections, signature: signature.join("\n") };
}

/** The signature alone (cheap: no file is read), to poll for changes. */
export function runbookSignature(dir: string): string {
  return listMarkdown(dir)
    .map((path) => {
      const stat = statSync(path);
      return `${relative(dir, path)}:${stat.size}:${stat.mtimeMs}`;
    })
    .join("\n");
}

function listMarkdown(dir: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir, { recursive: true, encoding: "utf8" });
  } catch {
    return []; // no runbook folder: no runbooks (the service logs the folder it reads)
  }
  return (
    entries
      // The folder's README says how runbooks are written; it is not one.
      .filter((entry) => entry.endsWith(".md") && entry !== "README.md" && !entry.split("/").some((part) => part.startsWith(".")))
      .map((entry) => join(dir, entry))
      .sort()
  );
}
