/**
 * Container records for the service's hot paths (`GET /containers/json`),
 * parsed once and reused while their config.json is unchanged (same inode,
 * size and mtime: records are replaced atomically, so any rewrite shows).
 * A listing then costs a readdir and one stat per container instead of a
 * JSON parse and schema check each.
 */
import { statSync } from "node:fs";
import { join } from "node:path";
import type { Context } from "../context.ts";
import type { ContainerRecord } from "../containers/record.ts";
import { liveState, readState, stateFile, type ContainerState, type LiveState } from "../containers/state.ts";

interface Entry {
  ino: number;
  size: number;
  mtimeMs: number;
  record: ContainerRecord | undefined;
}

interface StateEntry {
  ino: number;
  size: number;
  mtimeMs: number;
  state: ContainerState;
}

export class RecordCache {
  readonly #entries = new Map<string, Entry>();
  readonly #states = new Map<string, StateEntry>();

  /** The live state (reconciled with /proc every time; the file parsed only when it changed). */
  state(ctx: Context, id: string): LiveState {
    const dir = ctx.containers.dir(id);
    let st;
    try {
      st = statSync(stateFile(dir));
    } catch {
      this.#states.delete(id);
      return liveState(readState(dir));
    }
    const hit = this.#states.get(id);
    if (hit && hit.ino === st.ino && hit.size === st.size && hit.mtimeMs === st.mtimeMs) return liveState(hit.state);
    const state = readState(dir);
    this.#states.set(id, { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, state });
    return liveState(state);
  }

  /** Every complete record, as ctx.containers.list() returns them. */
  list(ctx: Context): ContainerRecord[] {
    const out: ContainerRecord[] = [];
    const seen = new Set<string>();
    for (const id of ctx.containers.ids()) {
      seen.add(id);
      let st;
      try {
        st = statSync(join(ctx.containers.dir(id), "config.json"));
      } catch {
        this.#entries.delete(id);
        continue;
      }
      const hit = this.#entries.get(id);
      let record: ContainerRecord | undefined;
      if (hit && hit.ino === st.ino && hit.size === st.size && hit.mtimeMs === st.mtimeMs) {
        record = hit.record;
      } else {
        try {
          record = ctx.containers.read(id);
        } catch {
          record = undefined;
        }
        this.#entries.set(id, { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, record });
      }
      if (record && !record.incomplete) out.push(record);
    }
    for (const id of this.#entries.keys()) if (!seen.has(id)) this.#entries.delete(id);
    for (const id of this.#states.keys()) if (!seen.has(id)) this.#states.delete(id);
    return out;
  }
}
