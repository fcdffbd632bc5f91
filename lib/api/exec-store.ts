/**
 * Exec instances, as Docker keeps them: created by `POST
 * /containers/{id}/exec`, started by `POST /exec/{id}/start`, inspected
 * (for the exit code) by `GET /exec/{id}/json`. They live in the service's
 * memory, like dockerd's; a finished one is forgotten after an hour.
 */
import { SkiffError } from "../errors.ts";
import { newExecId } from "../containers/exec.ts";

export interface ExecConfig {
  cmd: string[];
  env: string[];
  user: string;
  workdir: string;
  tty: boolean;
  attachStdin: boolean;
  attachStdout: boolean;
  attachStderr: boolean;
  detachKeys: string;
  privileged: boolean;
  consoleSize: [number, number] | undefined;
}

export interface ExecInstance {
  id: string;
  containerId: string;
  config: ExecConfig;
  running: boolean;
  started: boolean;
  exitCode: number | null;
  pid: number;
  finishedAt: number | undefined;
}

const KEEP_FINISHED_MS = 60 * 60 * 1000;
const MAX_EXECS = 2000;

export class ExecStore {
  readonly #execs = new Map<string, ExecInstance>();

  create(containerId: string, config: ExecConfig): ExecInstance {
    this.#prune();
    const e: ExecInstance = { id: newExecId(), containerId, config, running: false, started: false, exitCode: null, pid: 0, finishedAt: undefined };
    this.#execs.set(e.id, e);
    return e;
  }

  get(id: string): ExecInstance {
    const e = this.#execs.get(id) ?? [...this.#execs.values()].find((x) => id.length >= 12 && x.id.startsWith(id));
    if (!e) throw new SkiffError("NotFound", `no such exec instance: ${id}`);
    return e;
  }

  /** Exec ids of a container, oldest first (inspect's ExecIDs). */
  forContainer(containerId: string): string[] {
    return [...this.#execs.values()].filter((e) => e.containerId === containerId && (e.running || !e.started)).map((e) => e.id);
  }

  finish(e: ExecInstance, exitCode: number | null): void {
    e.running = false;
    e.exitCode = exitCode;
    e.finishedAt = Date.now();
  }

  #prune(): void {
    const now = Date.now();
    for (const [id, e] of this.#execs) {
      if (e.finishedAt !== undefined && now - e.finishedAt > KEEP_FINISHED_MS) this.#execs.delete(id);
    }
    while (this.#execs.size >= MAX_EXECS) {
      const oldest = this.#execs.keys().next();
      if (oldest.done) break;
      this.#execs.delete(oldest.value);
    }
  }
}

/** Docker's exec inspect JSON. */
export function inspectExec(e: ExecInstance): Record<string, unknown> {
  const [entrypoint, ...args] = e.config.cmd;
  return {
    ID: e.id,
    Running: e.running,
    ExitCode: e.exitCode,
    ProcessConfig: { tty: e.config.tty, entrypoint: entrypoint ?? "", arguments: args, privileged: e.config.privileged, user: e.config.user },
    OpenStdin: e.config.attachStdin,
    OpenStderr: e.config.attachStderr,
    OpenStdout: e.config.attachStdout,
    CanRemove: false,
    ContainerID: e.containerId,
    DetachKeys: e.config.detachKeys,
    Pid: e.pid,
  };
}
