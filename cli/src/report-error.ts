/** Describes an error for a terminal: its message, then each cause that adds something, one per line. */
export function describeError(error: unknown): string {
  const lines: string[] = [];
  const seen = new Set<unknown>();
  let shown = "";
  let current: unknown = error;
  while (current !== undefined && current !== null && !seen.has(current) && lines.length < 10) {
    seen.add(current);
    const text = current instanceof Error ? current.message : String(current);
    // A cause whose message the wrapper already quotes, or a zod error the wrapper summarised, adds nothing.
    const adds = lines.length === 0 || !(shown.includes(text) || (current instanceof Error && current.name === "ZodError"));
    if (adds) lines.push(lines.length === 0 ? text : `  caused by: ${text}`);
    shown += `\n${text}`;
    current = current instanceof Error ? current.cause : undefined;
  }
  return lines.join("\n");
}
