import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RecordCache } from "../../../lib/containers/record-cache.ts";
import { ContainerStore, type ContainerRecord } from "../../../lib/containers/record.ts";
import { testRecord } from "../../helpers/records.ts";
import type { ContainerState } from "../../../lib/containers/state.ts";

const running = (pid: number) => ({ schemaVersion: 1, status: "running", pid }) as unknown as ContainerState;

describe("RecordCache", () => {
  test("parses text once and reparses when the text changes", () => {
    const cache = new RecordCache();
    let parses = 0;
    const parse = (t: string) => {
      parses++;
      return JSON.parse(t) as ContainerState;
    };
    const a = JSON.stringify(running(10));
    expect(cache.state("x", a, parse)).toEqual(running(10));
    expect(cache.state("x", a, parse)).toEqual(running(10));
    expect(parses).toBe(1);
    // Same length, different content: a stat stamp could not tell these apart.
    const b = JSON.stringify(running(11));
    expect(b.length).toBe(a.length);
    expect(cache.state("x", b, parse)).toEqual(running(11));
    expect(parses).toBe(2);
  });

  test("a parse failure caches nothing", () => {
    const cache = new RecordCache();
    const bad = () => {
      throw new Error("corrupt");
    };
    expect(() => cache.state("x", "{", bad)).toThrow("corrupt");
    expect(cache.state("x", "{", (t) => ({ text: t }) as unknown as ContainerState)).toEqual({ text: "{" } as never);
  });

  test("persists to its file and forgets removed containers", () => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-cache-"));
    try {
      const file = join(dir, ".cache.json");
      const first = new RecordCache(file);
      first.state("a", "1", () => running(1));
      first.state("b", "2", () => running(2));
      first.save();
      const second = new RecordCache(file);
      const fail = (): ContainerState => {
        throw new Error("should come from the file");
      };
      expect(second.state("a", "1", fail)).toEqual(running(1));
      second.retain(new Set(["a"]));
      second.save();
      const saved = JSON.parse(readFileSync(file, "utf8"));
      expect(Object.keys(saved.states)).toEqual(["a"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("RecordCache pruning", () => {
  test("entries of containers that are gone are dropped when the file is written", () => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-cache-"));
    try {
      const file = join(dir, ".cache.json");
      let live = new Set(["a", "b"]);
      const cache = new RecordCache(file, () => live);
      cache.state("a", "1", () => running(1));
      cache.state("b", "2", () => running(2));
      live = new Set(["a"]);
      cache.save();
      expect(Object.keys(JSON.parse(readFileSync(file, "utf8")).states)).toEqual(["a"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("ContainerStore.read through the cache", () => {
  const ID = "c".repeat(64);
  const record = (name: string): ContainerRecord => testRecord({ id: ID, name });

  test("validates once per text, hands out copies, rereads a changed file and refuses a corrupt one", () => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-store-"));
    try {
      const store = new ContainerStore(dir);
      store.write(record("web"));
      const first = store.read(ID) as ContainerRecord;
      expect(first.name).toBe("web");
      // A caller that changes its copy changes nothing stored.
      first.name = "changed";
      expect(store.read(ID)?.name).toBe("web");
      // Seen again by a later process, from the saved cache.
      new ContainerStore(dir).list();
      store.write(record("api"));
      expect(store.read(ID)?.name).toBe("api");
      expect(new ContainerStore(dir).read(ID)?.name).toBe("api");
      writeFileSync(join(dir, ID, "config.json"), '{"schemaVersion": 1, "id": "not an id"}');
      expect(() => new ContainerStore(dir).read(ID)).toThrow();
      expect(new ContainerStore(dir).exists(ID)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
