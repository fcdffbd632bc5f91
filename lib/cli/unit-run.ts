/**
 * The parts of `run`, `rm` and `stop` that service units lean on, as Podman
 * has them: `--replace` (a stale container of the same name, or the one a
 * leftover --cidfile names, is stopped and removed first), `--pidfile` (the
 * shim's pid: the process that lives exactly as long as the container, for
 * PIDFile=), `--cidfile` on rm/stop, and `--ignore` for containers already
 * gone (ExecStop/ExecStopPost run whether or not the container still exists).
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import type { Context } from "../context.ts";
import { errnoCode, SkiffError } from "../errors.ts";
import { currentState, removeContainer, stopContainer } from "../containers/ops.ts";
import type { ContainerRecord } from "../containers/record.ts";

function readCidfile(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8").trim() || undefined;
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return undefined;
    throw new SkiffError("InvalidArgument", `read container id file ${path}: ${(e as Error).message}`);
  }
}

/** Stops (gracefully, with its stop timeout) and removes a container; false if there is none. */
async function replaceOne(ctx: Context, nameOrId: string): Promise<boolean> {
  let record: ContainerRecord;
  try {
    record = ctx.containers.resolve(nameOrId);
  } catch (e) {
    if (e instanceof SkiffError && e.kind === "NotFound") return false;
    throw e;
  }
  await stopContainer(ctx, record);
  await removeContainer(ctx, record, { force: true });
  return true;
}

/**
 * `run --replace`: removes the container a leftover --cidfile names (and the
 * file), and any container with the requested name. Nothing there: no error.
 */
export async function replaceExisting(ctx: Context, flags: { name?: string | undefined; cidfile?: string | undefined }): Promise<void> {
  if (flags.cidfile) {
    const id = readCidfile(flags.cidfile);
    if (id && /^[a-f0-9]{12,64}$/.test(id)) await replaceOne(ctx, id);
    rmSync(flags.cidfile, { force: true });
  }
  if (flags.name) await replaceOne(ctx, flags.name);
}

/** `--pidfile`: the shim's pid, once the container runs. */
export function writePidFile(ctx: Context, record: ContainerRecord, path: string): void {
  const shimPid = currentState(ctx, record).shimPid;
  if (shimPid <= 0) throw new SkiffError("Internal", `container ${record.name}: no shim pid to write to ${path}`);
  writeFileSync(path, `${shimPid}\n`);
}

/** After a foreground `run --rm`: the container is gone, so are the files naming it. */
export function removeRunFiles(flags: { cidfile?: string | undefined; pidfile?: string | undefined }): void {
  for (const f of [flags.cidfile, flags.pidfile]) if (f) rmSync(f, { force: true });
}

/**
 * The containers rm/stop act on: the names given plus those in --cidfile
 * files. A missing or empty cidfile is an error unless --ignore.
 */
export function targetsOf(names: string[], opts: { cidfile?: string[] | undefined; ignore?: boolean | undefined }): string[] {
  const out = [...names];
  for (const f of opts.cidfile ?? []) {
    const id = readCidfile(f);
    if (id) out.push(id);
    else if (!opts.ignore) throw new SkiffError("NotFound", `reading CIDFile: open ${f}: no such file or directory`);
  }
  if (out.length === 0 && !opts.ignore && (opts.cidfile ?? []).length === 0) {
    throw new SkiffError("InvalidArgument", "requires at least 1 container name or --cidfile");
  }
  return out;
}

/** Deletes cidfiles whose container is gone (podman rm --cidfile does). */
export function removeCidfiles(ctx: Context, cidfiles: string[] | undefined): void {
  for (const f of cidfiles ?? []) {
    const id = readCidfile(f);
    if (!id) continue;
    try {
      ctx.containers.resolve(id);
    } catch {
      rmSync(f, { force: true });
    }
  }
}

/** `--ignore`: a missing container is not an error. */
export function ignoringMissing<T extends { ok: boolean; error?: SkiffError }>(outcomes: T[], ignore: boolean | undefined): T[] {
  return ignore ? outcomes.filter((o) => o.ok || o.error?.kind !== "NotFound") : outcomes;
}

/**
 * `skiff start` under a unit for a container that already runs: no new shim
 * will speak, so tell the manager about the one there (MAINPID, READY).
 */
export async function notifyRunning(ctx: Context, record: ContainerRecord, unit: import("../systemd/unit-start.ts").UnitStart): Promise<void> {
  const { effectiveMode, encodeNotify } = await import("../systemd/notify.ts");
  if (!effectiveMode(record.options.sdNotify, unit.notifySocket) || !unit.notifySocket) return;
  const shimPid = currentState(ctx, record).shimPid;
  if (shimPid <= 0) return;
  const { sendDatagram } = await import("../sys/unixdgram.ts");
  sendDatagram(unit.notifySocket, encodeNotify([["MAINPID", shimPid], ["READY", 1]]));
}

const PROXIED_EARLY: Record<string, number> = { SIGINT: 2, SIGTERM: 15, SIGHUP: 1, SIGQUIT: 3, SIGUSR1: 10, SIGUSR2: 12 };

/**
 * Signal proxying for a foreground `run` from its first moment: a SIGTERM
 * that arrives while the image is pulled or the container starts (a unit
 * being stopped early) is not lost, and never kills the CLI while the
 * container runs on. Until the container runs signals are kept; then they
 * (and later ones) go to it through the shim.
 */
export class SignalProxy {
  readonly #pending: number[] = [];
  readonly #handlers: [string, () => void][] = [];
  #send: ((signal: number) => void) | undefined;

  constructor() {
    for (const [name, num] of Object.entries(PROXIED_EARLY)) {
      const h = (): void => {
        if (this.#send) this.#send(num);
        else this.#pending.push(num);
      };
      process.on(name as NodeJS.Signals, h);
      this.#handlers.push([name, h]);
    }
  }

  /** The first signal received before the container ran, if any. */
  get pending(): number | undefined {
    return this.#pending[0];
  }

  /** From now on signals go to `send`; those kept so far go first. */
  forward(send: (signal: number) => void): void {
    this.#send = send;
    for (const s of this.#pending.splice(0)) send(s);
  }

  release(): void {
    for (const [name, h] of this.#handlers.splice(0)) process.off(name as NodeJS.Signals, h);
  }
}
