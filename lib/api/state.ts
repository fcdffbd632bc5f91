/**
 * What the service keeps in memory beside the engine's files: exec
 * instances, attaches waiting for a start, and a watch on every container
 * it started, so `die` (and, for --rm, `destroy`) events are logged when
 * the container ends on its own.
 */
import type { Context } from "../context.ts";
import type { ContainerRecord } from "../containers/record.ts";
import { shimSocket } from "../containers/start.ts";
import { recordEvent, type EventType } from "../events.ts";
import { familiar } from "../images/views.ts";
import { AttachHub } from "./attach-hub.ts";
import { ExecStore } from "./exec-store.ts";
import { shimWait } from "./shim-wait.ts";
import { stateIfExists } from "./wait.ts";

export class ApiState {
  readonly ctx: Context;
  readonly execs = new ExecStore();
  readonly attaches = new AttachHub();
  /** Aborts when the service stops: long streams end then. */
  readonly #shutdown = new AbortController();
  readonly #watched = new Set<string>();

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

  /** Logs `die` when a container this service started exits, and `destroy` when --rm removed it. */
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
