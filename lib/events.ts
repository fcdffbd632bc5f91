/**
 * The events log: one JSON object per line in `<runroot>/events.log`
 * (volatile, like the rest of the run root), appended by whichever process
 * acted (the API service today; CLI verbs can call recordEvent too) and read
 * by `GET /events`. Appends are single O_APPEND writes of one short line,
 * so concurrent writers do not interleave. The file is rotated to
 * events.log.1 past 1 MiB; readers follow the rotation.
 */
import { readNewLines } from "./fsutil.ts";
import { appendFileSync, renameSync, statSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";

export type EventType = "container" | "image" | "volume" | "network" | "daemon";

export interface EngineEvent {
  type: EventType;
  /** create, start, die, destroy, pull, tag... (Docker's words). */
  action: string;
  /** Container id, image reference or id, volume name... */
  id: string;
  attributes: Record<string, string>;
  /** Nanoseconds since the epoch (millisecond precision). */
  timeNano: number;
}

const eventSchema = z.lazy(() =>
  z.object({
    type: z.enum(["container", "image", "volume", "network", "daemon"]),
    action: z.string(),
    id: z.string(),
    attributes: z.record(z.string()),
    timeNano: z.number(),
  }),
);

const ROTATE_BYTES = 1 << 20;

export function eventsFile(runRoot: string): string {
  return join(runRoot, "events.log");
}

const wakers = new Set<() => void>();

/** Appends an event; never throws (events are a record of what happened, not a precondition). */
export function recordEvent(runRoot: string, e: Omit<EngineEvent, "timeNano"> & { timeNano?: number }): EngineEvent {
  const event: EngineEvent = { ...e, timeNano: e.timeNano ?? Date.now() * 1_000_000 };
  const path = eventsFile(runRoot);
  try {
    try {
      if (statSync(path).size > ROTATE_BYTES) renameSync(path, `${path}.1`);
    } catch {
      // not there yet
    }
    appendFileSync(path, `${JSON.stringify(event)}\n`, { mode: 0o600 });
  } catch {
    // the run root may be gone (tests tearing down): nothing to record into
  }
  for (const w of wakers) w();
  return event;
}

export interface ReadEventsOptions {
  /** Replay logged events from this time (ms since the epoch). */
  since?: number | undefined;
  /** Stop at this time (ms); in the past: replay only. */
  until?: number | undefined;
  /** Keep streaming new events (until `until` or the signal). */
  follow: boolean;
  signal?: AbortSignal;
  pollMs?: number;
}

function parseLines(text: string): EngineEvent[] {
  const out: EngineEvent[] = [];
  for (const line of text.split("\n")) {
    if (!line) continue;
    try {
      const parsed = eventSchema.safeParse(JSON.parse(line));
      if (parsed.success) out.push(parsed.data);
    } catch {
      // a torn line from a crash: skip it
    }
  }
  return out;
}


function inWindow(e: EngineEvent, opts: ReadEventsOptions): boolean {
  const ms = e.timeNano / 1_000_000;
  if (opts.since !== undefined && ms < opts.since) return false;
  if (opts.until !== undefined && ms > opts.until) return false;
  return true;
}

/** Logged events (when since/until ask for history), then new ones while following. */
export async function* readEvents(runRoot: string, opts: ReadEventsOptions): AsyncGenerator<EngineEvent> {
  const path = eventsFile(runRoot);
  let offset = 0;
  let ino = -1;
  const replay = opts.since !== undefined || opts.until !== undefined;
  try {
    const st = statSync(path);
    offset = st.size;
    ino = st.ino;
  } catch {
    // no events yet
  }
  if (replay) {
    const old = readNewLines(`${path}.1`, 0);
    const cur = readNewLines(path, 0);
    if (cur) {
      offset = cur.offset;
      ino = cur.ino;
    }
    for (const e of [...parseLines(old?.text ?? ""), ...parseLines(cur?.text ?? "")]) if (inWindow(e, opts)) yield e;
  }
  if (!opts.follow) return;
  const poll = opts.pollMs ?? 250;
  for (;;) {
    if (opts.signal?.aborted) return;
    if (opts.until !== undefined && Date.now() > opts.until) return;
    let st: { ino: number } | undefined;
    try {
      st = statSync(path);
    } catch {
      st = undefined;
    }
    if (st && st.ino !== ino) {
      if (ino !== -1) {
        const rest = readNewLines(`${path}.1`, offset);
        for (const e of parseLines(rest?.text ?? "")) if (inWindow(e, opts)) yield e;
      }
      ino = st.ino;
      offset = 0;
    }
    const r = readNewLines(path, offset);
    if (r) {
      offset = r.offset;
      for (const e of parseLines(r.text)) if (inWindow(e, opts)) yield e;
    }
    const wait = opts.until !== undefined ? Math.max(0, Math.min(poll, opts.until - Date.now() + 1)) : poll;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        wakers.delete(done);
        opts.signal?.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, wait);
      wakers.add(done);
      opts.signal?.addEventListener("abort", done);
    });
  }
}
