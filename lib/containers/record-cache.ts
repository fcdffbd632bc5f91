/**
 * Parsed container records and states, reused while their files' text is
 * unchanged. Checking a record with zod costs about a millisecond on a cold
 * start; `ps` with fifty containers would spend most of its time there, while
 * reading and hashing the text costs microseconds. Entries are keyed by a
 * hash of the text, not by stat stamps: inode numbers are reused and mtimes
 * are coarse, so a rewrite could look unchanged. The CLI keeps the cache in
 * containers/.cache.json between runs (written by skiff itself, only ever
 * from validated files); the API service keeps it in memory.
 */
import { readFileSync } from "node:fs";
import { atomicWrite } from "../fsutil.ts";
import type { ContainerRecord } from "./record.ts";
import type { ContainerState } from "./state.ts";

interface Entry<T> {
  hash: string;
  value: T;
}

interface CacheFile {
  schemaVersion: 2;
  records: Record<string, Entry<ContainerRecord>>;
  states: Record<string, Entry<ContainerState>>;
}

function hashOf(text: string): string {
  return Bun.hash(text).toString(36);
}

export class RecordCache {
  readonly #file: string | undefined;
  #data: CacheFile = { schemaVersion: 2, records: {}, states: {} };
  #loaded = false;
  #dirty = false;
  #exitHook = false;

  readonly #live: (() => Set<string>) | undefined;

  /**
   * `file`: where to keep the cache between processes; none: memory only.
   * `live`: the ids that still exist, asked when the file is written, so the
   * entries of removed containers (a `run --rm` loop makes many) do not pile up.
   */
  constructor(file?: string, live?: () => Set<string>) {
    this.#file = file;
    this.#live = live;
  }

  #load(): void {
    if (this.#loaded) return;
    this.#loaded = true;
    if (!this.#file) return;
    try {
      const raw = JSON.parse(readFileSync(this.#file, "utf8")) as CacheFile;
      if (raw.schemaVersion === 2 && raw.records && raw.states) this.#data = raw;
    } catch {
      // no cache yet, or a broken one: start afresh
    }
  }

  /** The record parsed from `text` (config.json), parsing only text not seen before. */
  record(id: string, text: string, parse: (text: string) => ContainerRecord): ContainerRecord {
    return this.#lookup("records", id, text, parse);
  }

  /** The state parsed from `text` (state.json), parsing only text not seen before. */
  state(id: string, text: string, parse: (text: string) => ContainerState): ContainerState {
    return this.#lookup("states", id, text, parse);
  }

  #lookup<K extends "records" | "states">(
    kind: K,
    id: string,
    text: string,
    parse: (text: string) => CacheFile[K][string]["value"],
  ): CacheFile[K][string]["value"] {
    this.#load(); // before touching #data: loading replaces it
    const table = this.#data[kind] as Record<string, Entry<CacheFile[K][string]["value"]>>;
    const hash = hashOf(text);
    const hit = table[id];
    if (hit?.hash === hash) return hit.value;
    const value = parse(text); // throws on a corrupt file: nothing is cached
    table[id] = { hash, value };
    this.#markDirty();
    return value;
  }

  /** Drops entries of containers that no longer exist. */
  retain(ids: Set<string>): void {
    this.#load();
    for (const table of [this.#data.records, this.#data.states] as Record<string, unknown>[]) {
      for (const id of Object.keys(table)) {
        if (ids.has(id)) continue;
        delete table[id];
        this.#markDirty();
      }
    }
  }

  #markDirty(): void {
    if (this.#dirty) return;
    this.#dirty = true;
    // Written once, as the process ends, however many entries changed.
    if (this.#file && !this.#exitHook) {
      this.#exitHook = true;
      process.once("exit", () => this.save());
    }
  }

  /** Writes the cache back when it changed (no fsync: losing it only costs time). */
  save(): void {
    if (!this.#file || !this.#dirty) return;
    try {
      if (this.#live) this.retain(this.#live());
      atomicWrite(this.#file, JSON.stringify(this.#data), { noSync: true, mode: 0o600 });
      this.#dirty = false;
    } catch {
      // a read-only or full disk: the cache is only an optimisation
    }
  }
}
