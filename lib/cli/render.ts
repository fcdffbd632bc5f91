/**
 * Output shared by all commands, following Docker's `--format` conventions:
 *
 *   (none) or `table`            the command's default table
 *   `table {{.ID}}\t{{.Names}}`  a table; headers come from the fields (`.ID` → `CONTAINER ID`)
 *   `json`                       one JSON object per line
 *   any other template           applied to each row, one line per row, no header
 *
 * Inspect-like commands use formatSingle: indented JSON by default.
 */
import { compileTemplate, HEADER_FUNCS, toGoJson, type Template } from "./template.ts";
import { tabwrite } from "./render/tabwriter.ts";

export { bytesSize, humanDuration, humanSize, parseDuration, parseSize, timeAgo } from "./render/units.ts";
export { displayWidth, tabwrite } from "./render/tabwriter.ts";
export { truncateId } from "./render/ids.ts";

export type Column<T> = { header: string; get: (row: T) => string };

function tableText(lines: string[][]): string {
  return tabwrite(lines.map((cells) => `${cells.join("\t")}\n`).join(""));
}

/** A table laid out like Docker's (tabwriter: min width 10, padding 3, last column not padded). */
export function renderTable<T>(columns: Column<T>[], rows: T[], opts: { noHeader?: boolean } = {}): string {
  const lines = rows.map((row) => columns.map((c) => c.get(row)));
  if (!opts.noHeader) lines.unshift(columns.map((c) => c.header));
  return tableText(lines);
}

/** `CreatedAt` → `CREATED AT`, `IPAddress` → `IP ADDRESS`, `ID` → `ID`. */
export function headerFromField(field: string): string {
  return field
    .replace(/([\p{Ll}0-9])(\p{Lu})/gu, "$1 $2")
    .replace(/(\p{Lu}+)(\p{Lu}\p{Ll})/gu, "$1 $2")
    .toUpperCase();
}

class HeaderText {
  readonly #text: string;
  constructor(text: string) {
    this.#text = text;
  }
  toString(): string {
    return this.#text;
  }
}

/** Data for the header row: every field, however nested, reads as its column title. */
function headerData(text: string, headers: Record<string, string>): object {
  return new Proxy(new HeaderText(text), {
    get(target, prop) {
      if (typeof prop === "symbol" || prop === "toString") return Reflect.get(target, prop) as unknown;
      return headerData(headers[prop] ?? headerFromField(prop), headers);
    },
    has(_target, prop) {
      return typeof prop === "string";
    },
  });
}

/** Docker turns the two-character sequences `\t` and `\n` typed in a format into tab and newline. */
function expandEscapes(format: string): string {
  return format
    .split(/(\{\{[\s\S]*?\}\})/)
    .map((part, i) => (i % 2 === 1 ? part : part.replace(/\\t/g, "\t").replace(/\\n/g, "\n")))
    .join("");
}

function headerLine(tmpl: Template, body: string, headers: Record<string, string>): string {
  try {
    return tmpl.withFuncs(HEADER_FUNCS).execute(headerData("", headers));
  } catch {
    // A template the header data cannot satisfy (e.g. `len`): title each cell by its last field.
    return body
      .split("\t")
      .map((cell) => {
        const fields = [...cell.matchAll(/\.([\p{L}_][\p{L}\p{Nd}_]*)/gu)];
        const last = fields[fields.length - 1]?.[1];
        return last ? headers[last] ?? headerFromField(last) : "";
      })
      .join("\t");
  }
}

export type FormatOptions<T> = {
  /** The table printed without `--format` or with `--format table`. */
  defaultColumns: Column<T>[];
  /** Column titles for template fields, e.g. `{ ID: "CONTAINER ID" }`; others derive from the name. */
  headers?: Record<string, string>;
  /** `--quiet`: one value per row whatever the format; `true` means `{{.ID}}`. */
  quiet?: boolean | ((row: T) => string);
  /** Leave out the header row of tables (podman's `--noheading`). */
  noHeader?: boolean;
  /** What templates and `json` see for a row; the row itself by default. */
  data?: (row: T) => unknown;
};

/**
 * Renders a list command's rows per `--format` (see the file comment); the
 * result ends with a newline unless empty. Template errors throw InvalidArgument.
 */
export function formatOutput<T>(rows: T[], format: string | undefined, opts: FormatOptions<T>): string {
  const data = opts.data ?? ((row: T): unknown => row);
  const lines = (tmpl: Template): string => rows.map((row) => `${tmpl.execute(data(row))}\n`).join("");
  if (opts.quiet) {
    const quiet = opts.quiet;
    if (typeof quiet === "function") return rows.map((row) => `${quiet(row)}\n`).join("");
    return lines(compileTemplate("{{.ID}}"));
  }
  const f = format ?? "";
  if (f.trim() === "" || f.trim() === "table") return renderTable(opts.defaultColumns, rows, { noHeader: opts.noHeader });
  if (f.trim() === "json") return rows.map((row) => `${toGoJson(data(row))}\n`).join("");
  const isTable = f.startsWith("table");
  const body = expandEscapes((isTable ? f.slice("table".length) : f).replace(/^ +| +$/g, ""));
  const tmpl = compileTemplate(body);
  if (!isTable) return lines(tmpl);
  const header = opts.noHeader ? "" : `${headerLine(tmpl, body, opts.headers ?? {})}\n`;
  return tabwrite(header + lines(tmpl));
}

/**
 * For inspect-like commands: no format → JSON indented by 4 spaces (an array stays
 * an array); `json` → compact JSON, as `docker inspect --format json`; a template →
 * applied to each element of an array (or to the value), one line each.
 */
export function formatSingle(value: unknown, format?: string): string {
  if (format === undefined || format === "") return `${toGoJson(value, "    ")}\n`;
  if (format === "json") return `${toGoJson(value)}\n`;
  const tmpl = compileTemplate(format);
  const items = Array.isArray(value) ? value : [value];
  if (items.length === 0) return "\n";
  return items.map((item) => `${tmpl.execute(item)}\n`).join("");
}

export { formatSingle as formatSingleValue };
