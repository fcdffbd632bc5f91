/**
 * Signal names and numbers on Linux (the generic numbering that x86-64 and
 * arm64 share), as `docker stop/kill --signal` and an image's StopSignal
 * spell them.
 */
import { SkiffError } from "../errors.ts";

const SIGNALS: Readonly<Record<string, number>> = {
  HUP: 1,
  INT: 2,
  QUIT: 3,
  ILL: 4,
  TRAP: 5,
  ABRT: 6,
  IOT: 6,
  BUS: 7,
  FPE: 8,
  KILL: 9,
  USR1: 10,
  SEGV: 11,
  USR2: 12,
  PIPE: 13,
  ALRM: 14,
  TERM: 15,
  STKFLT: 16,
  CHLD: 17,
  CLD: 17,
  CONT: 18,
  STOP: 19,
  TSTP: 20,
  TTIN: 21,
  TTOU: 22,
  URG: 23,
  XCPU: 24,
  XFSZ: 25,
  VTALRM: 26,
  PROF: 27,
  WINCH: 28,
  IO: 29,
  POLL: 29,
  PWR: 30,
  SYS: 31,
};

/** First and last real-time signals as glibc reports them (the kernel's 32 and 33 are taken by libc). */
export const SIGRTMIN = 34;
export const SIGRTMAX = 64;

/**
 * "SIGTERM", "term", "15", "SIGRTMIN+3", "RTMAX-1" → the signal number.
 * Unknown names and numbers outside 1..64 are InvalidArgument.
 */
export function parseSignal(name: string): number {
  const raw = name.trim();
  if (/^[0-9]+$/.test(raw)) {
    const n = Number(raw);
    if (n >= 1 && n <= SIGRTMAX) return n;
    throw new SkiffError("InvalidArgument", `invalid signal: ${name}`);
  }
  const upper = raw.toUpperCase();
  const bare = upper.startsWith("SIG") ? upper.slice(3) : upper;
  const known = SIGNALS[bare];
  if (known !== undefined) return known;
  const rt = /^RT(MIN|MAX)(?:([+-])([0-9]{1,2}))?$/.exec(bare);
  if (rt) {
    const base = rt[1] === "MIN" ? SIGRTMIN : SIGRTMAX;
    const offset = rt[3] === undefined ? 0 : Number(rt[3]);
    // RTMIN counts up and RTMAX counts down, as in moby/sys/signal's table.
    const ok = offset === 0 || (rt[1] === "MIN" ? rt[2] === "+" : rt[2] === "-");
    const n = rt[1] === "MIN" ? base + offset : base - offset;
    if (ok && n >= SIGRTMIN && n <= SIGRTMAX) return n;
  }
  throw new SkiffError("InvalidArgument", `invalid signal: ${name}`);
}
