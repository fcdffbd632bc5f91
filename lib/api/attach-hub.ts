/**
 * Attach before start. `docker run` attaches to a container that does not
 * run yet, then starts it; the shim only exists once started. Attaches that
 * wait register here; the start handler marks the start as ours (so waiting
 * attaches connect with the shim's replay of early output, and the shim is
 * told to keep that output for them), then reports success or failure.
 * A terminal size set before start is kept for the start.
 */

interface Waiter {
  resolve: () => void;
  reject: (e: unknown) => void;
}

export class AttachHub {
  readonly #waiting = new Map<string, Set<Waiter>>();
  readonly #starting = new Set<string>();
  readonly #sizes = new Map<string, { rows: number; cols: number }>();

  /** Registers a waiting attach; `promise` settles on our start (or its failure). */
  register(id: string): { promise: Promise<void>; cancel: () => void } {
    let waiter!: Waiter;
    const promise = new Promise<void>((resolve, reject) => {
      waiter = { resolve, reject };
    });
    promise.catch(() => undefined);
    let set = this.#waiting.get(id);
    if (!set) {
      set = new Set();
      this.#waiting.set(id, set);
    }
    set.add(waiter);
    const cancel = (): void => {
      const s = this.#waiting.get(id);
      s?.delete(waiter);
      if (s && s.size === 0) this.#waiting.delete(id);
    };
    return { promise, cancel };
  }

  /** Someone is waiting to attach to `id`. */
  hasWaiting(id: string): boolean {
    return (this.#waiting.get(id)?.size ?? 0) > 0;
  }

  /** A start by this service is under way: waiting attaches must not take it for someone else's. */
  isStarting(id: string): boolean {
    return this.#starting.has(id);
  }

  beginStart(id: string): void {
    this.#starting.add(id);
  }

  /** The start succeeded (`error` undefined) or failed; wakes every waiting attach. */
  endStart(id: string, error?: unknown): void {
    this.#starting.delete(id);
    this.#sizes.delete(id);
    const set = this.#waiting.get(id);
    this.#waiting.delete(id);
    for (const w of set ?? []) {
      if (error === undefined) w.resolve();
      else w.reject(error);
    }
  }

  setSize(id: string, rows: number, cols: number): void {
    this.#sizes.set(id, { rows, cols });
  }

  size(id: string): { rows: number; cols: number } | undefined {
    return this.#sizes.get(id);
  }
}
