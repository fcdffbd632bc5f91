/** The pty side of a runtime started with a terminal (the container's, or an exec's). */
import type { Subprocess } from "bun";

/** Longest wait for a pty's EOF after its process exited (output still in flight). */
export const PTY_DRAIN_MS = 2000;

/** A promise settled by a spawn's `terminal.exit` callback (EOF on the pty). */
export function ptyClosed(): { closed: Promise<void>; done: () => void } {
  let done!: () => void;
  const closed = new Promise<void>((r) => {
    done = r;
  });
  return { closed, done };
}

/**
 * runc (and crun) copy their pty's size to the container's on SIGWINCH. The
 * kernel sends it to the pty's foreground process group; send it as well,
 * so a resize never depends on who holds the terminal.
 */
export function tellResized(runtime: Subprocess | undefined): void {
  if (!runtime || runtime.exitCode !== null || runtime.signalCode !== null) return;
  try {
    runtime.kill("SIGWINCH");
  } catch {
    // exited meanwhile
  }
}
