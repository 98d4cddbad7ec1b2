/** A column of a text table. */
export interface Column {
  header: string;
  /** Numbers read best right-aligned; text left-aligned (default). */
  align?: "left" | "right";
}

/** Renders rows under headers as aligned, space-separated columns without trailing spaces. */
export function renderTable(columns: readonly Column[], rows: readonly (readonly string[])[]): string {
  const widths = columns.map((column, index) => Math.max(column.header.length, ...rows.map((row) => (row[index] ?? "").length)));
  const renderRow = (cells: readonly string[]) =>
    columns
      .map((column, index) => {
        const cell = cells[index] ?? "";
        const width = widths[index] ?? 0;
        return column.align === "right" ? cell.padStart(width) : cell.padEnd(width);
      })
      .join("  ")
      .trimEnd();
  return [renderRow(columns.map((column) => column.header)), ...rows.map(renderRow)].join("\n");
}
