/**
 * The CLI end of an attached container or exec: our stdin goes in, its
 * output comes out, the terminal is in raw mode with its size followed, the
 * detach keys (Ctrl-P Ctrl-Q) leave it running, and signals we receive are
 * passed on when asked (--sig-proxy).
 */
import { DetachMatcher } from "../detach-keys.ts";
export { parseDetachKeys } from "../detach-keys.ts";
import type { Session } from "../../shim/client.ts";

export interface SessionOptions {
  tty: boolean;
  /** Forward our stdin. */
  stdin: boolean;
  /** Called for signals to forward; undefined: no proxy. */
  forwardSignal?: ((signal: number) => void) | undefined;
  /** Byte sequence that detaches (tty only); undefined: none. */
  detachKeys?: Uint8Array | undefined;
}

export interface SessionResult {
  exitCode: number | undefined;
  detached: boolean;
}

const PROXIED: Record<string, number> = { SIGINT: 2, SIGTERM: 15, SIGHUP: 1, SIGQUIT: 3, SIGUSR1: 10, SIGUSR2: 12 };

export function terminalSize(): { rows: number; cols: number } | undefined {
  const out = process.stdout;
  if (!out.isTTY) return undefined;
  return { rows: out.rows ?? 24, cols: out.columns ?? 80 };
}

/**
 * Puts our terminal in raw mode for an interactive tty session (a no-op
 * otherwise) and returns the undo. Called before attaching, so that the
 * first output (a replayed prompt) is already written raw.
 */
export function rawTerminal(opts: { tty: boolean; stdin: boolean }): () => void {
  // process.stdin is built on first use, with Node's stream classes (~4 ms): only when it is needed.
  if (!(opts.tty && opts.stdin)) return () => {};
  const stdin = process.stdin;
  if (!stdin.isTTY) return () => {};
  stdin.setRawMode(true);
  // Bun's raw mode (like libuv's) keeps output processing on: the
  // container's pty already sends "\r\n", which our terminal would turn
  // into "\r\r\n". Docker's raw mode clears OPOST; so do we. Leaving raw
  // mode restores the saved settings, OPOST included.
  Bun.spawnSync(["stty", "-opost"], { stdin: "inherit", stdout: "ignore", stderr: "ignore" });
  return () => stdin.setRawMode(false);
}

/** Pumps a session until it ends or is detached. The caller owns raw mode (rawTerminal). */
export async function runSession(session: Session, opts: SessionOptions): Promise<SessionResult> {
  let detachResolve!: () => void;
  const detached = new Promise<void>((r) => {
    detachResolve = r;
  });
  let isDetached = false;
  const cleanups: (() => void)[] = [];

  if (opts.tty) {
    const size = terminalSize();
    if (size) session.resize(size.rows, size.cols);
    const onWinch = (): void => {
      const s = terminalSize();
      if (s) session.resize(s.rows, s.cols);
    };
    process.on("SIGWINCH", onWinch);
    cleanups.push(() => process.off("SIGWINCH", onWinch));
  }
  if (opts.forwardSignal) {
    for (const [name, num] of Object.entries(PROXIED)) {
      const handler = (): void => opts.forwardSignal?.(num);
      process.on(name as NodeJS.Signals, handler);
      cleanups.push(() => process.off(name as NodeJS.Signals, handler));
    }
  }
  if (opts.stdin) {
    const stdin = process.stdin;
    const matcher = new DetachMatcher(opts.tty ? (opts.detachKeys ?? new Uint8Array([16, 17])) : new Uint8Array(0));
    const onData = (chunk: Buffer): void => {
      const { forward, hit } = matcher.feed(new Uint8Array(chunk));
      if (forward.length > 0) session.sendStdin(forward);
      if (hit) {
        isDetached = true;
        detachResolve();
      }
    };
    const onEnd = (): void => session.closeStdin();
    stdin.on("data", onData);
    stdin.on("end", onEnd);
    stdin.resume();
    cleanups.push(() => {
      stdin.off("data", onData);
      stdin.off("end", onEnd);
      stdin.pause();
    });
  }
  try {
    const exitCode = await Promise.race([session.done, detached.then(() => undefined)]);
    return { exitCode, detached: isDetached };
  } finally {
    for (const c of cleanups.reverse()) c();
  }
}
