/** The json-file writer: Docker's line format, partial lines, and size-based rotation per entry. */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeLogEntry, JsonFileLog, splitEntries } from "../../shim/log.ts";

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "skiff-log-"));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function entries(path: string): { log: string; stream: string; time: string }[] {
  return readFileSync(path, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { log: string; stream: string; time: string });
}

describe("json-file log", () => {
  test("one object per line; a chunk's tail without a newline is a partial entry", () => {
    expect(splitEntries("a\nb\nrest")).toEqual(["a\n", "b\n", "rest"]);
    expect(splitEntries("")).toEqual([]);
    expect(encodeLogEntry("stderr", 'q"\n', "2024-01-01T00:00:00.000000000Z")).toBe(
      '{"log":"q\\"\\n","stream":"stderr","time":"2024-01-01T00:00:00.000000000Z"}\n',
    );
    const path = join(dir, "ctr.log");
    const log = new JsonFileLog(path);
    log.write("stdout", new TextEncoder().encode("one\ntw"));
    log.write("stderr", new TextEncoder().encode("err\n"));
    log.close();
    expect(entries(path).map((e) => [e.stream, e.log])).toEqual([
      ["stdout", "one\n"],
      ["stdout", "tw"],
      ["stderr", "err\n"],
    ]);
  });

  test("a multi-byte character split across chunks is kept whole", () => {
    const path = join(dir, "ctr.log");
    const log = new JsonFileLog(path);
    const bytes = new TextEncoder().encode("é\n");
    log.write("stdout", bytes.subarray(0, 1));
    log.write("stdout", bytes.subarray(1));
    log.close();
    expect(entries(path).map((e) => e.log).join("")).toBe("é\n");
  });

  test("rotates at the entry that would pass max-size, even within one chunk", () => {
    const path = join(dir, "ctr.log");
    const log = new JsonFileLog(path, { maxSize: 1024, maxFiles: 3 });
    const burst = Array.from({ length: 200 }, (_, i) => `line-${i}-padding\n`).join("");
    log.write("stdout", new TextEncoder().encode(burst));
    log.close();
    expect(existsSync(`${path}.1`)).toBe(true);
    expect(existsSync(`${path}.2`)).toBe(true);
    expect(existsSync(`${path}.3`)).toBe(false);
    for (const f of [path, `${path}.1`, `${path}.2`]) expect(statSync(f).size).toBeLessThanOrEqual(1024);
    const kept = [...entries(`${path}.2`), ...entries(`${path}.1`), ...entries(path)].map((e) => e.log);
    expect(kept[kept.length - 1]).toBe("line-199-padding\n");
    const first = Number(kept[0]?.split("-")[1]);
    expect(kept).toEqual(kept.map((_, i) => `line-${first + i}-padding\n`));
  });

  test("max-file=1 keeps only the current file", () => {
    const path = join(dir, "ctr.log");
    const log = new JsonFileLog(path, { maxSize: 200, maxFiles: 1 });
    for (let i = 0; i < 20; i++) log.write("stdout", new TextEncoder().encode(`entry ${i}\n`));
    log.close();
    expect(existsSync(`${path}.1`)).toBe(false);
    expect(statSync(path).size).toBeLessThanOrEqual(200);
    expect(entries(path).pop()?.log).toBe("entry 19\n");
  });

  test("an entry larger than max-size still gets written, alone in its file", () => {
    const path = join(dir, "ctr.log");
    const log = new JsonFileLog(path, { maxSize: 100, maxFiles: 2 });
    log.write("stdout", new TextEncoder().encode("small\n"));
    log.write("stdout", new TextEncoder().encode(`${"x".repeat(300)}\n`));
    log.close();
    expect(entries(`${path}.1`).map((e) => e.log)).toEqual(["small\n"]);
    expect(entries(path).map((e) => e.log)).toEqual([`${"x".repeat(300)}\n`]);
  });
});
