/**
 * The healthcheck loop a shim runs for its container: the probe command is
 * exec'd in the container on a timer, its result recorded in state.json
 * (status, failing streak, the last five probes), and --health-on-failure
 * applied when the container turns unhealthy.
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { applyProbe, type Healthcheck, type HealthState } from "../lib/containers/health.ts";
import { execArgs } from "../runtime/oci.ts";
import type { ShimConfig } from "./config.ts";
import type { Container } from "./container.ts";
import { patchState } from "./state.ts";

const OUTPUT_LIMIT = 4096;
const LOG_ENTRIES = 5;

export interface ProbeResult {
  exitCode: number;
  output: string;
  start: string;
  end: string;
}

export class HealthChecker {
  readonly #ctr: Container;
  readonly #cfg: ShimConfig;
  readonly #hc: Healthcheck;
  #state: HealthState = { status: "starting", failingStreak: 0 };
  #log: { start: string; end: string; exitCode: number; output: string }[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #runStartedAt = 0;
  #running = false;
  /** Set when an unhealthy container should be restarted (--health-on-failure=restart). */
  wantsRestart = false;
  /** Called when the container first becomes healthy (for sd_notify READY in "healthy" mode). */
  onHealthy: (() => void) | undefined;

  constructor(ctr: Container, cfg: ShimConfig, hc: Healthcheck) {
    this.#ctr = ctr;
    this.#cfg = cfg;
    this.#hc = hc;
  }

  get status(): HealthState["status"] {
    return this.#state.status;
  }

  /** Starts probing a freshly started container. */
  begin(): void {
    this.stop();
    this.wantsRestart = false;
    this.#state = { status: "starting", failingStreak: 0 };
    this.#runStartedAt = Date.now();
    this.#save();
    this.#schedule();
  }

  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #inStartPeriod(): boolean {
    return Date.now() - this.#runStartedAt < this.#hc.startPeriodMs;
  }

  #schedule(): void {
    // Probes come faster during the start period, as Docker's start interval.
    const wait = this.#inStartPeriod() && this.#state.status === "starting" ? Math.min(this.#hc.startIntervalMs, this.#hc.intervalMs) : this.#hc.intervalMs;
    this.#timer = setTimeout(() => void this.probe().then(() => this.#scheduleIfRunning()), wait);
    this.#timer.unref?.();
  }

  #scheduleIfRunning(): void {
    if (this.#ctr.status === "running" && this.#timer !== undefined) this.#schedule();
  }

  /** Runs one probe now; records and acts on its result. */
  async probe(): Promise<ProbeResult> {
    if (this.#running) {
      await Bun.sleep(50);
      return { exitCode: this.#log[this.#log.length - 1]?.exitCode ?? -1, output: "probe already running", start: "", end: "" };
    }
    this.#running = true;
    try {
      const r = await this.#run();
      const before = this.#state.status;
      this.#state = applyProbe(this.#state, { ok: r.exitCode === 0, inStartPeriod: this.#inStartPeriod() }, this.#hc.retries);
      this.#log = [...this.#log, { start: r.start, end: r.end, exitCode: r.exitCode, output: r.output }].slice(-LOG_ENTRIES);
      this.#save();
      if (this.#state.status === "healthy" && before !== "healthy") this.onHealthy?.();
      if (this.#state.status === "unhealthy" && before !== "unhealthy") this.#onUnhealthy();
      return r;
    } finally {
      this.#running = false;
    }
  }

  #onUnhealthy(): void {
    const action = this.#cfg.healthOnFailure;
    if (action === "none" || this.#ctr.status !== "running") return;
    if (action === "restart") this.wantsRestart = true;
    if (action === "stop") {
      void this.#ctr.stop(15, 10);
      return;
    }
    void this.#ctr.signal(9, false).catch(() => {});
  }

  #save(): void {
    patchState(this.#cfg.containerDir, { health: { status: this.#state.status, failingStreak: this.#state.failingStreak, log: this.#log } });
  }

  async #run(): Promise<ProbeResult> {
    const start = new Date().toISOString();
    const cfg = this.#cfg;
    const file = join(cfg.runDir, `health-${process.pid}-${Date.now()}.json`);
    let exitCode = -1;
    let output = "";
    try {
      const base = (JSON.parse(readFileSync(join(cfg.bundle, "config.json"), "utf8")) as { process: Record<string, unknown> }).process;
      writeFileSync(file, JSON.stringify({ ...base, args: this.#hc.argv, terminal: false }));
      const pidFile = `${file}.pid`;
      const p = Bun.spawn(execArgs(cfg.runtime, cfg.id, { processFile: file, pidFile, detach: false, tty: false }), {
        stdin: "ignore",
        stdout: "pipe",
        stderr: "pipe",
      });
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        // The probe's own process is the one to kill; runc follows it.
        try {
          const pid = Number(readFileSync(pidFile, "utf8").trim());
          if (pid > 0) process.kill(pid, "SIGKILL");
        } catch {
          p.kill("SIGKILL");
        }
      }, this.#hc.timeoutMs);
      const [code, out, err] = await Promise.all([p.exited, new Response(p.stdout).text(), new Response(p.stderr).text()]);
      clearTimeout(timer);
      rmSync(pidFile, { force: true });
      output = (out + err).slice(0, OUTPUT_LIMIT);
      exitCode = timedOut ? -1 : code;
      if (timedOut) output = `Health check exceeded timeout (${this.#hc.timeoutMs / 1000}s)`;
    } catch (e) {
      output = (e as Error).message;
    } finally {
      rmSync(file, { force: true });
    }
    return { exitCode, output, start, end: new Date().toISOString() };
  }
}
