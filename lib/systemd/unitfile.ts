/**
 * systemd unit files (systemd.syntax(7)): sections of `Key=Value` lines,
 * comments (# ;), backslash continuations, repeated keys; and the word
 * splitting and quoting of command lines and lists (Exec=, Environment=,
 * PodmanArgs=). Parsing keeps order and duplicates, so a unit converted by
 * the generator keeps every line the user wrote.
 *
 *   const u = UnitFile.parse(text, "web.container");
 *   u.get("Container", "Image");          // last value
 *   u.getAll("Container", "Environment"); // every value (an empty one resets the list)
 *   u.add("Service", "ExecStart", formatCommand(["/usr/bin/skiff", "run", "busybox"]));
 *   u.toString();
 */
import { SkiffError } from "../errors.ts";

export interface UnitEntry {
  key: string;
  value: string;
}

export interface UnitSection {
  name: string;
  entries: UnitEntry[];
}

export class UnitFile {
  readonly sections: UnitSection[] = [];
  /** Comment lines before the first section (kept at the top). */
  header: string[] = [];

  /** Parses unit file text; `path` names it in errors. */
  static parse(text: string, path = "unit"): UnitFile {
    const unit = new UnitFile();
    let current: UnitSection | undefined;
    const lines = text.split(/\r?\n/);
    for (let i = 0; i < lines.length; i++) {
      let line = (lines[i] as string).trim();
      if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
      if (line.startsWith("[")) {
        if (!line.endsWith("]") || line.length < 3) throw new SkiffError("InvalidArgument", `${path}:${i + 1}: invalid section header ${JSON.stringify(line)}`);
        current = unit.section(line.slice(1, -1), { create: true });
        continue;
      }
      // A trailing backslash continues the value on the next line; comment lines in between are skipped.
      while (line.endsWith("\\")) {
        line = `${line.slice(0, -1)} `;
        i += 1;
        while (i < lines.length && /^[#;]/.test((lines[i] as string).trim())) i += 1;
        if (i >= lines.length) break;
        line += (lines[i] as string).trim();
      }
      line = line.trim();
      const eq = line.indexOf("=");
      if (eq <= 0) throw new SkiffError("InvalidArgument", `${path}:${i + 1}: expected Key=Value, got ${JSON.stringify(line)}`);
      if (!current) throw new SkiffError("InvalidArgument", `${path}:${i + 1}: assignment outside of a section`);
      current.entries.push({ key: line.slice(0, eq).trim(), value: line.slice(eq + 1).trim() });
    }
    return unit;
  }

  hasSection(name: string): boolean {
    return this.sections.some((s) => s.name === name);
  }

  section(name: string, opts: { create?: boolean } = {}): UnitSection {
    let s = this.sections.find((x) => x.name === name);
    if (!s) {
      s = { name, entries: [] };
      if (opts.create) this.sections.push(s);
    }
    return s;
  }

  /** The last value of a key, as systemd reads single-valued settings. */
  get(section: string, key: string): string | undefined {
    const entries = this.section(section).entries;
    for (let i = entries.length - 1; i >= 0; i--) if (entries[i]?.key === key) return entries[i]?.value;
    return undefined;
  }

  /** Every value of a key; an empty assignment clears what came before (list semantics). */
  getAll(section: string, key: string): string[] {
    const out: string[] = [];
    for (const e of this.section(section).entries) {
      if (e.key !== key) continue;
      if (e.value === "") out.length = 0;
      else out.push(e.value);
    }
    return out;
  }

  has(section: string, key: string): boolean {
    return this.section(section).entries.some((e) => e.key === key);
  }

  keys(section: string): string[] {
    return [...new Set(this.section(section).entries.map((e) => e.key))];
  }

  add(section: string, key: string, value: string): void {
    this.section(section, { create: true }).entries.push({ key, value });
  }

  /** Replaces every value of a key with one. */
  set(section: string, key: string, value: string): void {
    const s = this.section(section, { create: true });
    const i = s.entries.findIndex((e) => e.key === key);
    s.entries = s.entries.filter((e) => e.key !== key);
    s.entries.splice(i < 0 ? s.entries.length : i, 0, { key, value });
  }

  /** Renames a section (the generator keeps [Container] as [X-Container], which systemd ignores). */
  renameSection(from: string, to: string): void {
    const s = this.sections.find((x) => x.name === from);
    if (s) s.name = to;
  }

  removeSection(name: string): void {
    const i = this.sections.findIndex((x) => x.name === name);
    if (i >= 0) this.sections.splice(i, 1);
  }

  /** A deep copy. */
  clone(): UnitFile {
    const u = new UnitFile();
    u.header = [...this.header];
    for (const s of this.sections) u.sections.push({ name: s.name, entries: s.entries.map((e) => ({ ...e })) });
    return u;
  }

  toString(): string {
    const parts: string[] = [];
    if (this.header.length > 0) parts.push(`${this.header.join("\n")}\n`);
    for (const s of this.sections) {
      parts.push(`[${s.name}]\n${s.entries.map((e) => `${e.key}=${e.value}\n`).join("")}`);
    }
    return parts.join("\n");
  }
}

const C_ESCAPES: Record<string, string> = { n: "\n", t: "\t", r: "\r", a: "\x07", b: "\b", f: "\f", v: "\v", s: " ", "\\": "\\", '"': '"', "'": "'" };

/**
 * Splits a value into words as systemd does for command lines and lists:
 * whitespace separates, "double" and 'single' quotes group, and C escapes
 * (\n \t \s \xHH \\ \" ...) are decoded. A backslash before a newline-joined
 * space is just a space.
 */
export function splitWords(value: string): string[] {
  const out: string[] = [];
  let word: string | undefined;
  let quote: string | undefined;
  for (let i = 0; i < value.length; i++) {
    const c = value[i] as string;
    if (c === "\\" && i + 1 < value.length) {
      const n = value[i + 1] as string;
      i += 1;
      if (n === "x" && /^[0-9a-fA-F]{2}$/.test(value.slice(i + 1, i + 3))) {
        word = (word ?? "") + String.fromCharCode(Number.parseInt(value.slice(i + 1, i + 3), 16));
        i += 2;
      } else {
        word = (word ?? "") + (C_ESCAPES[n] ?? n);
      }
      continue;
    }
    if (quote) {
      if (c === quote) quote = undefined;
      else word = (word ?? "") + c;
      continue;
    }
    if (c === '"' || c === "'") {
      quote = c;
      word ??= "";
      continue;
    }
    if (/\s/.test(c)) {
      if (word !== undefined) out.push(word);
      word = undefined;
      continue;
    }
    word = (word ?? "") + c;
  }
  if (quote) throw new SkiffError("InvalidArgument", `unbalanced quotes in ${JSON.stringify(value)}`);
  if (word !== undefined) out.push(word);
  return out;
}

/** `KEY=VALUE` words of a list value (Environment=, Label=) into pairs; a bare KEY gets "". */
export function splitKeyValues(value: string): [string, string][] {
  return splitWords(value).map((w) => {
    const i = w.indexOf("=");
    return i < 0 ? [w, ""] : [w.slice(0, i), w.slice(i + 1)];
  });
}

/**
 * Quotes one word for a command line so that splitWords gives it back.
 * `literal` also escapes systemd's specifiers (%) and variables ($), for
 * values that come from a container rather than from a unit file.
 */
export function quoteWord(word: string, opts: { literal?: boolean } = {}): string {
  let w = word;
  if (opts.literal) w = w.replaceAll("%", "%%").replaceAll("$", "$$$$");
  if (w !== "" && /^[A-Za-z0-9_@%+=:,./$-]+$/.test(w)) return w;
  const escaped = w.replace(/[\\"\n\t\r]/g, (c) => ({ "\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r" })[c] as string);
  return `"${escaped}"`;
}

/** A command line for Exec*= from argv. */
export function formatCommand(argv: readonly string[], opts: { literal?: boolean } = {}): string {
  return argv.map((a) => quoteWord(a, opts)).join(" ");
}
