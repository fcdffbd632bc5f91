/**
 * The supervised container inside a shim: starting it with the runtime,
 * pumping its output to the log and attached clients, feeding its stdin,
 * reaping it and telling everyone how it ended.
 *
 * Without a terminal the runtime runs `run --detach`: it exits once the
 * container started, the container's init is reparented to the shim (a child
 * subreaper) and reaped with waitpid. With a terminal the runtime stays in
 * the foreground under a pty that the shim owns and proxies the container's
 * own pty; its exit status is the container's.
 */
import { closeSync, existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { FileSink, Subprocess, Terminal } from "bun";
import { killArgs, runArgs, runtimeMessage, startFailureCode } from "../runtime/oci.ts";
import { reapChild } from "../lib/sys/libc.ts";
import { needsHelper, networkReadyPath } from "../lib/network/plan.ts";
import { bootId, processStartTime } from "../lib/sys/proc.ts";
import type { ShimConfig } from "./config.ts";
import type { Conn } from "./conn.ts";
import { JsonFileLog, type LogStream } from "./log.ts";
import { FRAME } from "./protocol.ts";
import { patchState } from "./state.ts";
import { StartError } from "./errors.ts";
import { trace } from "../lib/trace.ts";
import { listenFdList } from "./notify.ts";
import { NetworkReady, stdinFifo } from "./fifos.ts";
import { ptyClosed, PTY_DRAIN_MS, tellResized } from "./terminal.ts";

interface Client {
  conn: Conn;
  stdout: boolean;
  stderr: boolean;
  stdin: boolean;
}

const REPLAY_LIMIT = 4 << 20;

export class Container {
  readonly #cfg: ShimConfig;
  pid = 0;
  status: "created" | "running" | "exited" = "created";
  exitCode: number | undefined;
  paused = false;
  /** The current run's exit; a restart starts a new run. */
  exited!: Promise<number>;
  #resolveExit!: (code: number) => void;
  /** When the current run started (for the restart back-off). */
  startedAt = 0;
  #reaperInstalled = false;
  outputDone: Promise<unknown> = Promise.resolve();
  #log: JsonFileLog | undefined;
  readonly #clients = new Set<Client>();
  #replay: { stream: LogStream; data: Uint8Array }[] | undefined;
  #replayBytes = 0;
  #holding: { stream: LogStream; data: Uint8Array }[] | undefined = [];
  #stdin: FileSink | undefined;
  /** The foreground runtime behind #terminal, which copies our pty's size to the container's. */
  #terminalRuntime: Subprocess | undefined;
  #terminal: Terminal | undefined;
  #stdinClosed = false;
  readonly #exitWaiters: ((code: number) => void)[] = [];
  readonly #attachWaiters: (() => void)[] = [];
  #attachedOnce = false;
  #networkReady: NetworkReady | undefined;
  /** Set once the exit was told: late clients get it at once. */
  #notifiedCode: number | undefined;
  readonly execTerminals = new Map<string, Terminal>();

  constructor(cfg: ShimConfig) {
    this.#cfg = cfg;
    this.#newRun();
    if (cfg.waitForAttach) this.#replay = [];
  }

  #newRun(): void {
    this.exited = new Promise((r) => {
      this.#resolveExit = r;
    });
    this.exitCode = undefined;
    this.status = "created";
    this.pid = 0;
    this.paused = false;
    this.#holding = [];
    this.#notifiedCode = undefined;
    // A restart gets a new stdin FIFO: the previous run's writer goes.
    this.closeStdin();
    this.#stdin = undefined;
    this.#stdinClosed = false;
  }

  /** Starts the container; again after an exit, for a restart (same bundle, rootfs and network). */
  /**
   * `gate`: work that must finish before the container's process runs (its
   * network helper); it overlaps the runtime's create when given.
   */
  async start(extra: Record<string, unknown> = {}, opts: { gate?: Promise<unknown> } = {}): Promise<void> {
    const cfg = this.#cfg;
    if (this.exitCode !== undefined) this.#newRun();
    const pidFile = join(cfg.runDir, "pid");
    rmSync(pidFile, { force: true });
    this.#log ??= new JsonFileLog(cfg.logPath, { maxSize: cfg.logMaxSize, maxFiles: cfg.logMaxFiles });
    // The runtime's hook waits on the FIFO while it creates the container (see networkReadyPath).
    const gate = opts.gate ?? Promise.resolve();
    if (needsHelper(cfg.network)) {
      this.#networkReady ??= new NetworkReady(networkReadyPath(cfg.runDir));
      const ready = this.#networkReady;
      ready.reset();
      void gate.then(
        () => ready.tell(true),
        () => ready.tell(false),
      );
    }
    if (cfg.tty) {
      await gate;
      await this.#startWithTerminal(pidFile);
    } else await this.#startWithPipes(pidFile, gate);
    trace("shim: runtime started the container");
    this.status = "running";
    this.startedAt = Date.now();
    const startedAt = new Date(this.startedAt).toISOString();
    patchState(cfg.containerDir, {
      ...extra,
      status: "running",
      pid: this.pid,
      pidStart: processStartTime(this.pid) ?? 0,
      shimPid: process.pid,
      shimStart: processStartTime(process.pid) ?? 0,
      startedAt,
      finishedAt: "0001-01-01T00:00:00Z",
      exitCode: 0,
      error: "",
      bootId: bootId(),
    });
  }

  async #startWithPipes(pidFile: string, gate: Promise<unknown>): Promise<void> {
    const cfg = this.#cfg;
    const fds = listenFdList(cfg);
    const stdin = cfg.openStdin ? stdinFifo(cfg.runDir) : undefined;
    const argv = runArgs(cfg.runtime, cfg.id, { bundle: cfg.bundle, pidFile, detach: true, preserveFds: fds.length });
    trace("shim: spawning the runtime");
    const proc = Bun.spawn(argv, {
      cwd: cfg.bundle,
      stdio: [stdin?.readFd ?? "ignore", "pipe", "pipe", ...fds],
    });
    if (stdin) {
      // The container holds the read end now; ours would keep it from ever seeing EOF.
      closeSync(stdin.readFd);
      this.#stdin = stdin.writer;
    }
    const pumps = [this.#pump("stdout", proc.stdout), this.#pump("stderr", proc.stderr)];
    this.outputDone = Promise.all(pumps);
    const code = await proc.exited;
    if (code !== 0) {
      // The network's failure is the story (the hook then failed the runtime too).
      const gateError = await gate.then(
        () => undefined,
        (e: unknown) => e,
      );
      if (gateError) throw gateError;
      // runc shares the container's stderr: what it wrote is its error.
      await Promise.race([this.outputDone, Bun.sleep(200)]);
      const message = runtimeMessage(this.#heldText()) || `${cfg.runtime.name} exited with status ${code}`;
      throw new StartError(message, startFailureCode(message));
    }
    this.pid = Number(readFileSync(pidFile, "utf8").trim());
    this.#release();
    if (!this.#reaperInstalled) {
      this.#reaperInstalled = true;
      process.on("SIGCHLD", () => this.#reap());
      // Belt and braces: a signal can be coalesced or arrive before the handler.
      const timer = setInterval(() => this.#reap(), 1000);
      timer.unref();
    }
    this.#reap();
  }

  async #startWithTerminal(pidFile: string): Promise<void> {
    const cfg = this.#cfg;
    // The pty is made by spawn itself (not a separate Bun.Terminal): then it
    // is the runtime's controlling terminal, so a resize reaches it as
    // SIGWINCH, and it is ours alone, so EOF on it means everything the
    // runtime copied out has been read.
    const pty = ptyClosed();
    const proc: Subprocess = Bun.spawn(runArgs(cfg.runtime, cfg.id, { bundle: cfg.bundle, pidFile, detach: false }), {
      cwd: cfg.bundle,
      terminal: {
        cols: cfg.cols ?? 80,
        rows: cfg.rows ?? 24,
        data: (_t, data) => this.#output("stdout", data),
        exit: pty.done,
      },
    });
    this.#terminal = proc.terminal;
    this.#terminalRuntime = proc;
    const drained = (): Promise<unknown> => Promise.race([pty.closed, Bun.sleep(PTY_DRAIN_MS)]);
    const deadline = Date.now() + 30_000;
    while (!existsSync(pidFile)) {
      if (proc.exitCode !== null || proc.signalCode !== null || Date.now() > deadline) {
        await drained();
        const message = runtimeMessage(this.#heldText()) || `${cfg.runtime.name} exited with status ${proc.exitCode}`;
        throw new StartError(message, startFailureCode(message));
      }
      await Bun.sleep(2);
    }
    this.pid = Number(readFileSync(pidFile, "utf8").trim());
    this.#release();
    // The init is runc's child here, but detached execs are still ours to reap.
    if (!this.#reaperInstalled) {
      this.#reaperInstalled = true;
      process.on("SIGCHLD", () => this.#reapAdopted());
    }
    // The exit is told once the pty has drained.
    this.outputDone = proc.exited.then(drained);
    void Promise.all([proc.exited, this.outputDone]).then(([code]) => this.#finish(code));
  }

  #heldText(): string {
    return (this.#holding ?? []).map((h) => new TextDecoder().decode(h.data)).join("");
  }

  /** Output held during start goes out now that the container really runs. */
  #release(): void {
    const held = this.#holding ?? [];
    this.#holding = undefined;
    for (const h of held) this.#output(h.stream, h.data);
  }

  async #pump(stream: LogStream, body: ReadableStream<Uint8Array>): Promise<void> {
    try {
      for await (const chunk of body) this.#output(stream, chunk);
    } catch {
      // the pipe broke: the container is gone
    }
  }

  #output(stream: LogStream, data: Uint8Array): void {
    if (this.#holding) {
      this.#holding.push({ stream, data: data.slice() });
      return;
    }
    this.#log?.write(stream, data);
    if (this.#replay) {
      this.#replay.push({ stream, data: data.slice() });
      this.#replayBytes += data.length;
      while (this.#replayBytes > REPLAY_LIMIT && this.#replay.length > 1) {
        this.#replayBytes -= (this.#replay.shift() as { data: Uint8Array }).data.length;
      }
    }
    const type = stream === "stdout" ? FRAME.STDOUT : FRAME.STDERR;
    for (const c of this.#clients) {
      if ((stream === "stdout" && c.stdout) || (stream === "stderr" && c.stderr)) c.conn.frame(type, data);
    }
  }

  /** Detached exec processes are reparented to us (the subreaper) when runc exits. */
  readonly #adopted = new Set<number>();

  /**
   * Takes responsibility for reaping `pid`. Unreaped, a zombie in the
   * container's PID namespace would keep its init from finishing its exit.
   */
  adopt(pid: number): void {
    this.#adopted.add(pid);
    this.#reap();
  }

  #reap(): void {
    for (const pid of this.#adopted) {
      const st = reapChild(pid);
      if (st !== undefined) this.#adopted.delete(pid);
    }
    if (this.exitCode !== undefined || this.pid <= 0) return;
    const st = reapChild(this.pid);
    if (st === undefined) return;
    if (st === -1) {
      // Not our child (should not happen): fall back to watching /proc.
      if (existsSync(`/proc/${this.pid}`)) return;
      this.#finish(255);
      return;
    }
    this.#finish(st);
  }

  #reapAdopted(): void {
    for (const pid of this.#adopted) {
      if (reapChild(pid) !== undefined) this.#adopted.delete(pid);
    }
  }

  #finish(code: number): void {
    if (this.exitCode !== undefined) return;
    this.exitCode = code;
    this.status = "exited";
    this.#resolveExit(code);
  }

  attach(conn: Conn, req: { stdin: boolean; stdout: boolean; stderr: boolean; replay: boolean }): void {
    const client: Client = { conn, stdout: req.stdout, stderr: req.stderr, stdin: req.stdin };
    if (req.replay && this.#replay) {
      for (const r of this.#replay) {
        if ((r.stream === "stdout" && req.stdout) || (r.stream === "stderr" && req.stderr)) {
          conn.frame(r.stream === "stdout" ? FRAME.STDOUT : FRAME.STDERR, r.data);
        }
      }
    }
    // Only the first client gets a replay: later ones read the log.
    this.#replay = undefined;
    this.#replayBytes = 0;
    this.#clients.add(client);
    conn.onClose = () => this.#clients.delete(client);
    conn.onFrames((type, payload) => {
      if (type === FRAME.STDIN && req.stdin) this.writeStdin(payload);
      else if (type === FRAME.STDIN_EOF && req.stdin && this.#cfg.stdinOnce) this.closeStdin();
      else if (type === FRAME.RESIZE) {
        const { rows, cols } = JSON.parse(new TextDecoder().decode(payload)) as { rows: number; cols: number };
        this.resize(rows, cols);
      }
    });
    if (!this.#attachedOnce) {
      this.#attachedOnce = true;
      for (const w of this.#attachWaiters.splice(0)) w();
    }
    if (this.#notifiedCode !== undefined) {
      conn.frame(FRAME.EXIT, JSON.stringify({ exitCode: this.#notifiedCode }));
      conn.end();
    }
  }

  writeStdin(data: Uint8Array): void {
    if (this.#terminal) {
      this.#terminal.write(data);
      return;
    }
    if (!this.#stdin || this.#stdinClosed) return;
    // EPIPE once the container closed its stdin: later input is dropped, and a
    // rejected flush must not go unhandled (that would end the shim).
    const drop = (): void => {
      this.#stdinClosed = true;
    };
    try {
      // Both may answer with a promise that rejects with EPIPE.
      const written = this.#stdin.write(data);
      if (written instanceof Promise) written.catch(drop);
      const flushed = this.#stdin.flush();
      if (flushed instanceof Promise) flushed.catch(drop);
    } catch {
      drop();
    }
  }

  closeStdin(): void {
    if (this.#stdinClosed || !this.#stdin) return;
    this.#stdinClosed = true;
    try {
      const ended = this.#stdin.end();
      if (ended instanceof Promise) ended.catch(() => {});
    } catch {
      // already closed
    }
  }

  resize(rows: number, cols: number): void {
    if (rows <= 0 || cols <= 0 || !this.#terminal) return;
    this.#terminal.resize(cols, rows);
    tellResized(this.#terminalRuntime);
  }

  resizeExec(execId: string, rows: number, cols: number): void {
    if (rows > 0 && cols > 0) this.execTerminals.get(execId)?.resize(cols, rows);
  }

  onExit(cb: (code: number) => void): void {
    if (this.#notifiedCode !== undefined) cb(this.#notifiedCode);
    else this.#exitWaiters.push(cb);
  }

  async signal(signal: number, all: boolean): Promise<void> {
    if (this.exitCode !== undefined) throw new Error(`container ${this.#cfg.name} is not running`);
    if (!all) {
      process.kill(this.pid, signal);
      return;
    }
    // --all finds processes through the cgroup; rootless there may be none.
    const p = Bun.spawn(killArgs(this.#cfg.runtime, this.#cfg.id, { signal, all: true }), { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
    const [code, err] = await Promise.all([p.exited, new Response(p.stderr).text()]);
    if (code !== 0) {
      // Killing the init of the container's PID namespace takes every process with it.
      process.kill(this.pid, signal);
      if (signal !== 9) throw new Error(runtimeMessage(err) || "kill failed");
    }
  }

  /** Set by stop: a pending restart is cancelled. */
  stopRequested = false;

  /** Sends `signal`, then SIGKILL after `timeoutSeconds`; resolves with the exit code. */
  async stop(signal: number, timeoutSeconds: number): Promise<number> {
    this.stopRequested = true;
    if (this.exitCode !== undefined) return this.exitCode;
    patchState(this.#cfg.containerDir, { stoppedByUser: true });
    try {
      if (this.paused) await this.signal(9, true);
      else await this.signal(signal, false);
    } catch {
      // already exiting
    }
    const timedOut = await Promise.race([this.exited.then(() => false), Bun.sleep(Math.max(0, timeoutSeconds) * 1000).then(() => true)]);
    if (timedOut) {
      try {
        // SIGKILL to the PID namespace's init kills them all; a frozen one needs the runtime.
        await this.signal(9, this.paused);
      } catch {
        // exited meanwhile
      }
    }
    return this.exited;
  }

  /** Tells attached clients and waiters how the container ended. */
  notifyExit(code: number, opts: { keepOpen: boolean }): void {
    this.#notifiedCode = code;
    for (const c of this.#clients) {
      c.conn.frame(FRAME.EXIT, JSON.stringify({ exitCode: code }));
      if (!opts.keepOpen) c.conn.end();
    }
    for (const w of this.#exitWaiters.splice(0)) w(code);
  }

  closeClients(): void {
    for (const c of this.#clients) c.conn.end();
  }

  closeLog(): void {
    this.#log?.close();
    this.#log = undefined;
  }

  /** Resolves when a first client attached, or after `ms`. */
  async firstAttach(ms: number): Promise<void> {
    if (this.#attachedOnce) return;
    await Promise.race([new Promise<void>((r) => this.#attachWaiters.push(r)), Bun.sleep(ms)]);
  }

  /** Resolves when every client disconnected, or after `ms`. */
  async clientsGone(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.#clients.size > 0 && Date.now() < deadline) await Bun.sleep(10);
  }
}
