/**
 * The shim under a systemd unit (ShimConfig.unit, see
 * lib/systemd/unit-start.ts): it becomes the unit's main process by sending
 * `MAINPID=<own pid>` on the manager's NOTIFY_SOCKET, says READY as the mode
 * asks (at once, once healthy, or when the container says so through the
 * proxy socket), turns SIGTERM/SIGINT into the container's stop, and exits
 * with the container's exit code (0 when it was stopped on purpose), so
 * `Restart=on-failure` means what it says. It also holds the
 * socket-activation fds and hands them to the runtime.
 *
 * Errors talking to the manager go to the shim log; they never stop the
 * container.
 */
import { chmodSync, closeSync, mkdirSync, readFileSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";
import { relayMessage, startMessage } from "../lib/systemd/notify.ts";
import { DatagramSocket, sendDatagram } from "../lib/sys/unixdgram.ts";
import type { ShimConfig } from "./config.ts";
import type { Container } from "./container.ts";

const RELAY_POLL_MS = 50;
const HEALTH_POLL_MS = 250;
/** Seconds between the stop signal systemd sends and SIGKILL (the container's own stop timeout is the CLI's business). */
const STOP_TIMEOUT_S = 10;

function log(message: string): void {
  try {
    writeSync(2, `shim: sd-notify: ${message}\n`); // fd 2 is shim.log
  } catch {
    // no log to write to
  }
}

/** The listen fds the runtime gets as 3.. (runc --preserve-fds). */
export function listenFdList(cfg: ShimConfig): number[] {
  const l = cfg.unit?.listenFds;
  return l ? Array.from({ length: l.count }, (_, i) => l.from + i) : [];
}

export class UnitNotifier {
  readonly #cfg: ShimConfig;
  #proxy: DatagramSocket | undefined;
  #ctr: Container | undefined;
  readonly #timers: ReturnType<typeof setInterval>[] = [];

  private constructor(cfg: ShimConfig) {
    this.#cfg = cfg;
  }

  /** Before the container starts: binds the proxy socket (container mode) and starts relaying. */
  static prepare(cfg: ShimConfig): UnitNotifier {
    const n = new UnitNotifier(cfg);
    const proxy = cfg.unit?.notify?.proxy;
    if (proxy) {
      try {
        mkdirSync(dirname(proxy), { recursive: true, mode: 0o755 });
        chmodSync(dirname(proxy), 0o755);
        n.#proxy = DatagramSocket.bind(proxy);
        // Any container user may speak to it, as to systemd's own socket.
        chmodSync(proxy, 0o777);
        n.#timers.push(setInterval(() => n.#relay(), RELAY_POLL_MS));
      } catch (e) {
        log(`cannot bind ${proxy}: ${(e as Error).message}`);
      }
    }
    return n;
  }

  #send(message: string): boolean {
    const socket = this.#cfg.unit?.notify?.socket;
    if (!socket) return false;
    try {
      sendDatagram(socket, message);
      return true;
    } catch (e) {
      log(`send to ${socket}: ${(e as Error).message}`);
      return false;
    }
  }

  #relay(): void {
    for (let m = this.#proxy?.receive(); m; m = this.#proxy?.receive()) {
      const out = relayMessage(new TextDecoder().decode(m), process.pid);
      if (out) this.#send(out);
    }
  }

  /** Once the container runs: MAINPID (and READY for conmon); healthy mode starts watching the health status. */
  started(ctr: Container): void {
    const notify = this.#cfg.unit?.notify;
    if (!notify) return;
    this.#ctr = ctr;
    // Only the first run counts: a restart inside the shim keeps the same main process.
    this.#send(startMessage(notify.mode, process.pid));
    if (notify.mode === "healthy") {
      const timer = setInterval(() => {
        if (healthStatus(this.#cfg.containerDir) !== "healthy") return;
        clearInterval(timer);
        this.#send("READY=1");
      }, HEALTH_POLL_MS);
      this.#timers.push(timer);
    }
    // As the unit's main process we get systemd's stop signal (KillMode=mixed): stop the container.
    for (const sig of ["SIGTERM", "SIGINT"] as const) {
      process.on(sig, () => {
        ctr.stop(sig === "SIGTERM" ? 15 : 2, STOP_TIMEOUT_S).catch(() => {});
      });
    }
  }

  /** The shim's exit status: the container's under a unit (0 when stopped on purpose), else 0 as before. */
  exitCode(containerExit: number): number {
    this.close();
    if (!this.#cfg.unit?.notify) return 0;
    return this.#ctr?.stopRequested || stoppedByUser(this.#cfg.containerDir) ? 0 : containerExit;
  }

  close(): void {
    for (const t of this.#timers.splice(0)) clearInterval(t);
    this.#relay();
    this.#proxy?.close();
    this.#proxy = undefined;
    for (const fd of listenFdList(this.#cfg)) {
      try {
        closeSync(fd);
      } catch {
        // already closed
      }
    }
  }
}

function readState(containerDir: string): { stoppedByUser?: boolean; health?: { status?: string } } {
  try {
    return JSON.parse(readFileSync(join(containerDir, "state.json"), "utf8")) as { stoppedByUser?: boolean; health?: { status?: string } };
  } catch {
    return {};
  }
}

function healthStatus(containerDir: string): string | undefined {
  return readState(containerDir).health?.status;
}

function stoppedByUser(containerDir: string): boolean {
  return readState(containerDir).stoppedByUser === true;
}
