/** The events log: append, replay by time window, follow new events, rotation. */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eventsFile, readEvents, recordEvent, type EngineEvent } from "../../../lib/events.ts";
import { eventMessage } from "../../../lib/api/routes/system.ts";

const dir = mkdtempSync(join(tmpdir(), "skiff-events-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function collect(it: AsyncGenerator<EngineEvent>, n: number): Promise<EngineEvent[]> {
  const out: EngineEvent[] = [];
  for await (const e of it) {
    out.push(e);
    if (out.length >= n) break;
  }
  return out;
}

describe("events log", () => {
  test("replay within since/until, then stop", async () => {
    const t0 = Date.now();
    recordEvent(dir, { type: "container", action: "create", id: "a", attributes: { name: "x" }, timeNano: (t0 - 10_000) * 1e6 });
    recordEvent(dir, { type: "container", action: "start", id: "a", attributes: { name: "x" }, timeNano: t0 * 1e6 });
    recordEvent(dir, { type: "image", action: "pull", id: "busybox", attributes: {}, timeNano: (t0 + 10_000) * 1e6 });
    const got = await collect(readEvents(dir, { since: t0 - 1000, until: t0 + 1000, follow: false }), 10);
    expect(got.map((e) => e.action)).toEqual(["start"]);
  });

  test("follow sees an event recorded later, and ends at until", async () => {
    const start = Date.now();
    const it = readEvents(dir, { follow: true, since: start, until: start + 1500, pollMs: 50 });
    setTimeout(() => recordEvent(dir, { type: "container", action: "die", id: "b", attributes: { exitCode: "3" } }), 100);
    const got = await collect(it, 5);
    expect(got.map((e) => e.action)).toEqual(["die"]);
    expect(Date.now() - start).toBeGreaterThanOrEqual(1400);
  });

  test("Docker's message shape keeps the legacy fields", () => {
    const m = eventMessage({ type: "container", action: "start", id: "abc", attributes: { image: "busybox", name: "x" }, timeNano: 1_700_000_000_123_000_000 });
    expect(m).toMatchObject({ status: "start", id: "abc", from: "busybox", Type: "container", Action: "start", Actor: { ID: "abc", Attributes: { image: "busybox", name: "x" } }, scope: "local", time: 1700000000 });
  });

  test("the log rotates past 1 MiB and replay still reads both files", async () => {
    const d = mkdtempSync(join(tmpdir(), "skiff-events-rot-"));
    try {
      const attrs = { pad: "p".repeat(2000) };
      for (let i = 0; i < 600; i++) recordEvent(d, { type: "container", action: `a${i}`, id: "c", attributes: attrs });
      expect(statSync(`${eventsFile(d)}.1`).size).toBeGreaterThan(1 << 20);
      const got = await collect(readEvents(d, { since: 0, follow: false }), 10_000);
      expect(got.at(-1)?.action).toBe("a599");
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
