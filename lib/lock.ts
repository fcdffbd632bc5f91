/**
 * File locks with flock(2): the kernel drops them when the holder dies, so a
 * SIGKILLed skiff never leaves a stale lock. Taken with LOCK_NB and retried
 * with a growing sleep, so an event loop (the API server) never blocks in the
 * kernel.
 */
import { closeSync, mkdirSync, openSync } from "node:fs";
import { dirname } from "node:path";
import { SkiffError } from "./errors.ts";
import { flock, LOCK_EX, LOCK_NB, LOCK_SH, LOCK_UN } from "./sys/libc.ts";

export interface LockOptions {
  shared?: boolean;
  /** Give up after this many milliseconds (default: wait for ever). */
  timeoutMs?: number;
  /** Called once if the lock is not free at the first attempt. */
  onWait?: () => void;
}

export class Lock {
  #fd: number | undefined;
  readonly path: string;

  constructor(path: string, fd: number) {
    this.path = path;
    this.#fd = fd;
  }

  release(): void {
    if (this.#fd === undefined) return;
    try {
      flock(this.#fd, LOCK_UN);
    } finally {
      closeSync(this.#fd);
      this.#fd = undefined;
    }
  }

  [Symbol.dispose](): void {
    this.release();
  }
}

function openLockFile(path: string): number {
  try {
    return openSync(path, "a", 0o600);
  } catch (e) {
    if ((e as { code?: string }).code === "ENOENT") {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      return openSync(path, "a", 0o600);
    }
    throw e;
  }
}

/** Tries once; returns undefined when another process holds the lock. */
export function tryLock(path: string, opts: { shared?: boolean } = {}): Lock | undefined {
  const fd = openLockFile(path);
  const op = (opts.shared ? LOCK_SH : LOCK_EX) | LOCK_NB;
  try {
    if (flock(fd, op)) return new Lock(path, fd);
  } catch (e) {
    closeSync(fd);
    throw e;
  }
  closeSync(fd);
  return undefined;
}

export async function acquireLock(path: string, opts: LockOptions = {}): Promise<Lock> {
  const fd = openLockFile(path);
  const op = (opts.shared ? LOCK_SH : LOCK_EX) | LOCK_NB;
  const start = Date.now();
  let delay = 1;
  let warned = false;
  try {
    for (;;) {
      if (flock(fd, op)) return new Lock(path, fd);
      if (!warned) {
        warned = true;
        opts.onWait?.();
      }
      if (opts.timeoutMs !== undefined && Date.now() - start > opts.timeoutMs) {
        throw new SkiffError("Unavailable", `timed out waiting for lock ${path}`);
      }
      await Bun.sleep(delay);
      delay = Math.min(delay * 2, 50);
    }
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

/** Synchronous variant for short critical sections outside an event loop. */
export function acquireLockSync(path: string, opts: LockOptions = {}): Lock {
  const fd = openLockFile(path);
  const op = (opts.shared ? LOCK_SH : LOCK_EX) | LOCK_NB;
  const start = Date.now();
  let delay = 1;
  try {
    for (;;) {
      if (flock(fd, op)) return new Lock(path, fd);
      if (opts.timeoutMs !== undefined && Date.now() - start > opts.timeoutMs) {
        throw new SkiffError("Unavailable", `timed out waiting for lock ${path}`);
      }
      Bun.sleepSync(delay);
      delay = Math.min(delay * 2, 50);
    }
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

export async function withLock<T>(path: string, fn: () => Promise<T> | T, opts: LockOptions = {}): Promise<T> {
  const lock = await acquireLock(path, opts);
  try {
    return await fn();
  } finally {
    lock.release();
  }
}
