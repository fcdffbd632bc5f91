/**
 * A container's mutable state: status, pids, exit. Kept in
 * containers/<id>/state.json, written by the CLI (create, stop when the shim
 * is gone) and by the shim (running, exited). Reads reconcile it with the
 * machine: after a reboot, or when the processes are gone, a "running"
 * container reads as exited.
 */
import { join } from "node:path";
import { z } from "zod";
import { SkiffError } from "../errors.ts";
import { atomicWrite, parseJsonText, readTextFile } from "../fsutil.ts";
import { bootId, processStartTime, sameProcess } from "../sys/proc.ts";

export type Status = "created" | "running" | "paused" | "restarting" | "exited" | "removing";

export const ZERO_TIME = "0001-01-01T00:00:00Z";

export const stateSchema = z.lazy(() =>
  z.object({
    schemaVersion: z.literal(1),
    status: z.enum(["created", "running", "paused", "restarting", "exited", "removing"]),
    /** Container init, as seen from the host. */
    pid: z.number().int().default(0),
    /** Start time (clock ticks since boot) of pid, to detect reuse. */
    pidStart: z.number().default(0),
    shimPid: z.number().int().default(0),
    shimStart: z.number().default(0),
    exitCode: z.number().int().default(0),
    startedAt: z.string().default(ZERO_TIME),
    finishedAt: z.string().default(ZERO_TIME),
    error: z.string().default(""),
    oomKilled: z.boolean().default(false),
    restartCount: z.number().int().default(0),
    /** Set by `stop`/`kill` so restart policies know the user stopped it. */
    stoppedByUser: z.boolean().default(false),
    /** The container's address on its network (while running). */
    ipAddress: z.string().default(""),
    /** Published ports with the host ports actually used (while running). */
    ports: z
      .array(z.object({ containerPort: z.number(), protocol: z.enum(["tcp", "udp", "sctp"]), hostIp: z.string(), hostPort: z.number() }))
      .default([]),
    /** The boot the pids belong to. */
    bootId: z.string().default(""),
    health: z
      .object({
        status: z.enum(["starting", "healthy", "unhealthy", "none"]),
        failingStreak: z.number().int(),
        log: z.array(z.object({ start: z.string(), end: z.string(), exitCode: z.number(), output: z.string() })),
      })
      .optional(),
  }),
);

export type ContainerState = z.infer<typeof stateSchema>;

export function stateFile(containerDir: string): string {
  return join(containerDir, "state.json");
}

/**
 * The text this process last wrote to each state file. Reading back a
 * file that still holds it needs no schema: what we wrote was a whole
 * state (and `run` reads the state create just wrote, where building the
 * schema would cost a millisecond or two).
 */
const ownWrites = new Map<string, string>();

export function readState(containerDir: string): ContainerState {
  const path = stateFile(containerDir);
  const text = readTextFile(path);
  if (text === undefined) return stateSchema.parse({ schemaVersion: 1, status: "created" });
  if (ownWrites.get(path) === text) return JSON.parse(text) as ContainerState;
  return parseJsonText(path, text, stateSchema);
}

/** Atomic but not synced: see shim/state.ts for why a state needs no fsync. */
export function writeState(containerDir: string, state: ContainerState): void {
  const path = stateFile(containerDir);
  const text = `${JSON.stringify(state, null, 2)}\n`;
  atomicWrite(path, text, { mode: 0o600, noSync: true });
  if (ownWrites.size >= 256) ownWrites.clear(); // a long-lived API service writes many
  ownWrites.set(path, text);
}

export { bootId, processStartTime, sameProcess };

export interface LiveState extends ContainerState {
  /** The shim is alive. */
  shimAlive: boolean;
  /** Why the state was corrected on read, e.g. "shim died". */
  note?: string;
}

/**
 * Reconciles a stored state with the running system. Pure apart from /proc
 * reads; the caller decides whether to save a corrected state.
 */
export function liveState(state: ContainerState): LiveState {
  const shimAlive = state.shimPid > 0 && state.bootId === bootId() && sameProcess(state.shimPid, state.shimStart);
  if (state.status !== "running" && state.status !== "paused" && state.status !== "restarting") return { ...state, shimAlive };
  if (state.bootId !== bootId()) {
    return { ...state, status: "exited", pid: 0, shimAlive: false, exitCode: state.exitCode || 255, note: "the host rebooted" };
  }
  if (shimAlive) return { ...state, shimAlive };
  if (sameProcess(state.pid, state.pidStart)) {
    return { ...state, shimAlive: false, note: "its shim died; the container still runs unsupervised" };
  }
  return { ...state, status: "exited", pid: 0, shimAlive: false, exitCode: state.exitCode || 255, note: "its shim died" };
}

/** Transitions a verb may make, by the status it finds. */
const ALLOWED = {
  start: ["created", "exited"],
  stop: ["running", "paused", "restarting", "created", "exited"],
  kill: ["running", "paused", "restarting"],
  pause: ["running"],
  unpause: ["paused"],
  exec: ["running"],
  attach: ["running", "created"],
  remove: ["created", "exited"],
} as const satisfies Record<string, readonly Status[]>;

export type Verb = keyof typeof ALLOWED;

export function canDo(verb: Verb, status: Status): boolean {
  return (ALLOWED[verb] as readonly Status[]).includes(status);
}

export function assertCan(verb: Verb, status: Status, name: string): void {
  if (canDo(verb, status)) return;
  const hint = verb === "remove" ? ": stop the container before removing it or use -f" : "";
  throw new SkiffError("Conflict", `container ${name} is ${status}: cannot ${verb}${hint}`);
}
