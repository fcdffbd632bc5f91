/** Writing command results to stdout in the shapes render.ts knows. */
import { formatOutput, formatSingle } from "./render.ts";
import { writeStdout } from "./stdio.ts";

/** A default-table column that shows one field of the row. */
export interface Column<T> {
  header: string;
  field: keyof T & string;
}

export function printList<T extends object>(
  rows: T[],
  opts: { format?: string | undefined; columns: Column<T>[]; headers?: Record<string, string>; noHeader?: boolean },
): void {
  const text = formatOutput(rows, opts.format, {
    defaultColumns: opts.columns.map((c) => ({ header: c.header, get: (r: T) => String(r[c.field] ?? "") })),
    ...(opts.headers ? { headers: opts.headers } : {}),
    ...(opts.noHeader ? { noHeader: true } : {}),
  });
  writeStdout(text);
}

export function printValue(value: unknown, format?: string): void {
  writeStdout(formatSingle(value, format));
}
