/**
 * What the service keeps in memory beside the engine's files: exec
 * instances, attaches waiting for a start, and a watch on every container
 * it started: its exit code is learned from the shim the moment it exits
 * (a --rm container's files are gone moments later, so `wait
 * condition=removed` needs it from here), and `die` (and, for --rm,
 * `destroy`) events are logged.
 */
import type { Context } from "../context.ts";
import type { ContainerRecord } from "../containers/record.ts";
import { shimSocket } from "../containers/start.ts";
import { recordEvent, type EventType } from "../events.ts";
import { familiar } from "../images/views.ts";
import { AttachHub } from "./attach-hub.ts";
import { ExecStore } from "./exec-store.ts";
import { RecordCache } from "./record-cache.ts";
import { shimWait } from "./shim-wait.ts";
import { stateIfExists, type ExitHooks } from "./wait.ts";

const KEEP_EXITS = 1000;

export class ApiState {
  readonly ctx: Context;
  readonly execs = new ExecStore();
  readonly attaches = new AttachHub();
  readonly records = new RecordCache();
  /** Aborts when the service stops: long streams end then. */
  readonly #shutdown = new AbortController();
  readonly #watched = new Set<string>();
  readonly #exits = new Map<string, { code: number; at: number }>();
  readonly #exitListeners = new Map<string, Set<() => void>>();

  constructor(ctx: Context) {
    this.ctx = ctx;
  }

  get shutdownSignal(): AbortSignal {
    return this.#shutdown.signal;
  }

  shutdown(): void {
    this.#shutdown.abort();
  }

  event(type: EventType, action: string, id: string, attributes: Record<string, string> = {}): void {
    recordEvent(this.ctx.paths.runRoot, { type, action, id, attributes });
  }

  /** A container event with Docker's attributes (image, name, labels). */
  containerEvent(record: ContainerRecord, action: string, extra: Record<string, string> = {}): void {
    const attrs: Record<string, string> = { ...record.options.labels, image: familiar(record.image.name), name: record.name, ...extra };
    this.event("container", action, record.id, attrs);
  }

  /** Exit codes learned for a container, for waits. */
  exitHooks(id: string): ExitHooks {
    return {
      known: (since) => {
        const e = this.#exits.get(id);
        return e && e.at >= since ? e.code : undefined;
      },
      subscribe: (cb) => {
        let set = this.#exitListeners.get(id);
        if (!set) {
          set = new Set();
          this.#exitListeners.set(id, set);
        }
        set.add(cb);
        return () => {
          set.delete(cb);
          if (set.size === 0) this.#exitListeners.delete(id);
        };
      },
    };
  }

  /** Resolves once an exit of `id` after `since` is learned (true), or after `ms` (false). */
  async exitLearned(id: string, since: number, ms: number): Promise<boolean> {
    const hooks = this.exitHooks(id);
    if (hooks.known(since) !== undefined) return true;
    if (!this.#watched.has(id)) return false;
    return await new Promise<boolean>((resolve) => {
      const done = (v: boolean): void => {
        clearTimeout(timer);
        unsubscribe();
        resolve(v);
      };
      const unsubscribe = hooks.subscribe(() => done(true));
      const timer = setTimeout(() => done(false), ms);
    });
  }

  #learnExit(id: string, code: number): void {
    this.#exits.delete(id);
    this.#exits.set(id, { code, at: Date.now() });
    while (this.#exits.size > KEEP_EXITS) {
      const oldest = this.#exits.keys().next();
      if (oldest.done) break;
      this.#exits.delete(oldest.value);
    }
    for (const cb of [...(this.#exitListeners.get(id) ?? [])]) cb();
  }

  /** Watches a container this service just started: learns its exit, logs `die` and, for --rm, `destroy`. */
  watchExit(record: ContainerRecord): void {
    if (this.#watched.has(record.id)) return;
    this.#watched.add(record.id);
    const signal = this.#shutdown.signal;
    void (async () => {
      try {
        let code: number | undefined;
        try {
          code = await shimWait(shimSocket(this.ctx, record.id), signal);
        } catch {
          code = undefined;
        }
        if (signal.aborted) return;
        const s = stateIfExists(this.ctx, record.id);
        if (code === undefined && s?.status === "exited") code = s.exitCode;
        if (code !== undefined) this.#learnExit(record.id, code);
        this.containerEvent(record, "die", { exitCode: String(code ?? s?.exitCode ?? 0) });
        if (!record.options.autoRemove) return;
        for (let i = 0; i < 600 && !signal.aborted; i++) {
          if (!stateIfExists(this.ctx, record.id)) {
            this.containerEvent(record, "destroy");
            return;
          }
          await Bun.sleep(50);
        }
      } finally {
        this.#watched.delete(record.id);
      }
    })();
  }
}
