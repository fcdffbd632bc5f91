/**
 * Reading container logs (json-file, with rotated files ctr.log.N): tail,
 * time windows and follow. Needs no shim: `logs -f` watches the file until
 * the container stops.
 */
import { readNewLines } from "../fsutil.ts";
import { readdirSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { SkiffError } from "../errors.ts";
import { parseDuration } from "../cli/render.ts";

export interface LogEntry {
  stream: "stdout" | "stderr";
  log: string;
  time: string;
}

export interface LogReadOptions {
  follow?: boolean;
  /** Last N entries; undefined: all. */
  tail?: number | undefined;
  /** Unix ms bounds. */
  since?: number | undefined;
  until?: number | undefined;
  /** While following: is the container still running? */
  running?: () => boolean;
  /** Poll interval while following. */
  pollMs?: number;
  signal?: AbortSignal;
}

/** `--since`/`--until`: RFC 3339 or date, Unix seconds (with fraction), or a duration back from now. */
export function parseLogTime(value: string, now = Date.now()): number {
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  if (/^\d{4}-\d{2}-\d{2}/.test(v)) {
    const t = Date.parse(v.includes("T") || v.length === 10 ? v : v.replace(" ", "T"));
    if (Number.isFinite(t)) return t;
  }
  try {
    return now - parseDuration(v);
  } catch {
    throw new SkiffError("InvalidArgument", `invalid time value ${JSON.stringify(value)}: use a timestamp (2024-01-02T15:04:05Z), Unix seconds or a duration (10m)`);
  }
}

/** Oldest first: ctr.log.N … ctr.log.1, ctr.log. */
export function logFiles(path: string): string[] {
  const dir = dirname(path);
  const base = basename(path);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const rotated = names
    .map((n) => (n.startsWith(`${base}.`) ? Number(n.slice(base.length + 1)) : Number.NaN))
    .filter((n) => Number.isInteger(n) && n > 0)
    .sort((a, b) => b - a)
    .map((n) => join(dir, `${base}.${n}`));
  return names.includes(base) ? [...rotated, path] : rotated;
}

export function parseLogLine(line: string): LogEntry | undefined {
  if (!line) return undefined;
  try {
    const e = JSON.parse(line) as LogEntry;
    if (typeof e.log !== "string" || (e.stream !== "stdout" && e.stream !== "stderr")) return undefined;
    return e;
  } catch {
    return undefined;
  }
}

function inWindow(e: LogEntry, opts: LogReadOptions): boolean {
  if (opts.since === undefined && opts.until === undefined) return true;
  const t = Date.parse(e.time);
  if (opts.since !== undefined && t < opts.since) return false;
  if (opts.until !== undefined && t > opts.until) return false;
  return true;
}

/** Reads a file from `offset`; returns complete lines and the new offset. */
function readFrom(path: string, offset: number): { lines: string[]; offset: number; ino: number } | undefined {
  const r = readNewLines(path, offset);
  if (!r) return undefined;
  return { lines: r.text === "" ? [] : r.text.slice(0, -1).split("\n"), offset: r.offset, ino: r.ino };
}

export async function* readLogs(path: string, opts: LogReadOptions = {}): AsyncGenerator<LogEntry> {
  const entries: LogEntry[] = [];
  for (const f of logFiles(path)) {
    const r = readFrom(f, 0);
    if (!r) continue;
    for (const line of r.lines) {
      const e = parseLogLine(line);
      if (e && inWindow(e, opts)) entries.push(e);
    }
  }
  const start = opts.tail !== undefined && opts.tail >= 0 ? Math.max(0, entries.length - opts.tail) : 0;
  for (let i = start; i < entries.length; i++) yield entries[i] as LogEntry;
  if (!opts.follow) return;

  let offset = 0;
  let ino = -1;
  try {
    const st = statSync(path);
    offset = st.size;
    ino = st.ino;
  } catch {
    // not created yet
  }
  const poll = opts.pollMs ?? 50;
  for (;;) {
    if (opts.signal?.aborted) return;
    const stillRunning = opts.running ? opts.running() : false;
    let st: { size: number; ino: number } | undefined;
    try {
      st = statSync(path);
    } catch {
      st = undefined;
    }
    if (st && st.ino !== ino) {
      // Rotated: finish the old file (now ctr.log.1), then start the new one.
      if (ino !== -1) {
        const old = readFrom(`${path}.1`, offset);
        for (const line of old?.lines ?? []) {
          const e = parseLogLine(line);
          if (e && inWindow(e, opts)) yield e;
        }
      }
      ino = st.ino;
      offset = 0;
    }
    const r = readFrom(path, offset);
    if (r) {
      offset = r.offset;
      for (const line of r.lines) {
        const e = parseLogLine(line);
        if (e && inWindow(e, opts)) yield e;
      }
    }
    if (opts.until !== undefined && Date.now() > opts.until) return;
    if (!stillRunning) return;
    await Bun.sleep(poll);
  }
}
