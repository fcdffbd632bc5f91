/**
 * Healthchecks and restart policies as pure rules: the effective healthcheck
 * (the image's HEALTHCHECK with the run flags laid over it), what a probe
 * result does to the health state, and whether an exit means a restart and
 * after how long. The shim applies them; no systemd timers are involved.
 */
import { SkiffError } from "../errors.ts";
import type { ContainerConfig } from "../images/manifest.ts";
import type { CreateOptions } from "./options.ts";

/** Docker's defaults. */
export const HEALTH_DEFAULTS = { intervalMs: 30_000, timeoutMs: 30_000, startPeriodMs: 0, startIntervalMs: 5_000, retries: 3 };

export interface Healthcheck {
  /** The command to run: argv (CMD) or ["/bin/sh", "-c", line] (CMD-SHELL). */
  argv: string[];
  intervalMs: number;
  timeoutMs: number;
  startPeriodMs: number;
  startIntervalMs: number;
  retries: number;
}

/** Docker's Test forms → argv; undefined for NONE or empty. */
export function testArgv(test: readonly string[] | null | undefined): string[] | undefined {
  if (!test || test.length === 0) return undefined;
  const [kind, ...rest] = test;
  if (kind === "NONE") return undefined;
  if (kind === "CMD") return rest.length > 0 ? rest : undefined;
  if (kind === "CMD-SHELL") return rest.length > 0 ? ["/bin/sh", "-c", rest.join(" ")] : undefined;
  // A bare command line, as the --health-cmd flag gives it.
  return ["/bin/sh", "-c", test.join(" ")];
}

const NS_PER_MS = 1_000_000;

/** The healthcheck in force, or undefined when there is none. */
export function effectiveHealthcheck(image: ContainerConfig | null | undefined, options: Pick<CreateOptions, "healthcheck" | "noHealthcheck">): Healthcheck | undefined {
  if (options.noHealthcheck) return undefined;
  const img = image?.Healthcheck ?? undefined;
  const h = options.healthcheck;
  const argv = testArgv(h.test ?? img?.Test ?? undefined);
  if (!argv) return undefined;
  const fromImage = (ns: number | null | undefined): number | undefined => (ns && ns > 0 ? Math.round(ns / NS_PER_MS) : undefined);
  return {
    argv,
    intervalMs: h.intervalMs || fromImage(img?.Interval) || HEALTH_DEFAULTS.intervalMs,
    timeoutMs: h.timeoutMs || fromImage(img?.Timeout) || HEALTH_DEFAULTS.timeoutMs,
    startPeriodMs: h.startPeriodMs ?? fromImage(img?.StartPeriod) ?? HEALTH_DEFAULTS.startPeriodMs,
    startIntervalMs: h.startIntervalMs || fromImage(img?.StartInterval) || HEALTH_DEFAULTS.startIntervalMs,
    retries: h.retries || (img?.Retries && img.Retries > 0 ? img.Retries : HEALTH_DEFAULTS.retries),
  };
}

export type HealthStatus = "starting" | "healthy" | "unhealthy";

export interface HealthState {
  status: HealthStatus;
  failingStreak: number;
}

/**
 * One probe's effect: success makes the container healthy; failures count
 * toward `retries`, except during the start period (where only a success
 * counts, as Docker).
 */
export function applyProbe(state: HealthState, probe: { ok: boolean; inStartPeriod: boolean }, retries: number): HealthState {
  if (probe.ok) return { status: "healthy", failingStreak: 0 };
  if (probe.inStartPeriod && state.status === "starting") return state;
  const failingStreak = state.failingStreak + 1;
  return { status: failingStreak >= retries ? "unhealthy" : state.status, failingStreak };
}

export type RestartPolicy = CreateOptions["restart"];

/** `--restart no|on-failure[:N]|always|unless-stopped`. */
export function parseRestartPolicy(spec: string): RestartPolicy {
  const [name, count] = spec.split(":", 2) as [string, string | undefined];
  if (name !== "no" && name !== "on-failure" && name !== "always" && name !== "unless-stopped") {
    throw new SkiffError("InvalidArgument", `invalid restart policy ${JSON.stringify(spec)}: use no, on-failure[:max-retries], always or unless-stopped`);
  }
  if (count !== undefined) {
    if (name !== "on-failure") throw new SkiffError("InvalidArgument", `maximum retry count cannot be used with restart policy '${name}'`);
    if (!/^\d+$/.test(count)) throw new SkiffError("InvalidArgument", `invalid maximum retry count: ${count}`);
  }
  return { name, maximumRetryCount: count !== undefined ? Number(count) : 0 };
}

/** Whether the shim restarts a container that just exited. */
export function shouldRestart(
  policy: RestartPolicy,
  exit: { code: number; stoppedByUser: boolean; restartCount: number; healthRestart?: boolean },
): boolean {
  if (exit.healthRestart && !exit.stoppedByUser) return true;
  if (exit.stoppedByUser) return false;
  switch (policy.name) {
    case "no":
      return false;
    case "always":
    case "unless-stopped":
      return true;
    case "on-failure":
      return exit.code !== 0 && (policy.maximumRetryCount === 0 || exit.restartCount < policy.maximumRetryCount);
  }
}

/** Docker's back-off: 100 ms doubling per restart, at most a minute, reset after 10 s of running. */
export function restartDelayMs(previousDelayMs: number, ranForMs: number): number {
  if (ranForMs >= 10_000 || previousDelayMs === 0) return 100;
  return Math.min(previousDelayMs * 2, 60_000);
}
