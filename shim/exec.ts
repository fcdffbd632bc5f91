/**
 * `exec` inside a running container, run by its shim so the process lives in
 * the right namespaces (and, rootless, the right user namespace) with no
 * setup by the CLI. The connection carries the process's output as frames
 * and ends with its exit status.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { FileSink, Terminal } from "bun";
import { execArgs, runtimeMessage, startFailureCode } from "../runtime/oci.ts";
import type { ShimConfig } from "./config.ts";
import type { Conn } from "./conn.ts";
import type { Container } from "./container.ts";
import { ptyClosed, PTY_DRAIN_MS, tellResized } from "./terminal.ts";
import { FRAME, type ShimRequest } from "./protocol.ts";

type ExecRequest = Extract<ShimRequest, { op: "exec" }>;

export async function runExec(ctr: Container, cfg: ShimConfig, conn: Conn, req: ExecRequest): Promise<void> {
  if (ctr.exitCode !== undefined) {
    conn.reply({ ok: false, kind: "Conflict", message: `container ${cfg.name} is not running` });
    conn.end();
    return;
  }
  if (ctr.paused) {
    conn.reply({ ok: false, kind: "Conflict", message: `container ${cfg.name} is paused, unpause the container before exec` });
    conn.end();
    return;
  }
  const processFile = join(cfg.runDir, `exec-${req.execId}.json`);
  const pidFile = join(cfg.runDir, `exec-${req.execId}.pid`);
  writeFileSync(processFile, JSON.stringify(req.process), { mode: 0o600 });
  const tty = req.process.terminal;
  const argv = execArgs(cfg.runtime, cfg.id, { processFile, pidFile, detach: req.detach, tty: false });
  const cleanup = (): void => {
    rmSync(processFile, { force: true });
    rmSync(pidFile, { force: true });
    ctr.execTerminals.delete(req.execId);
  };

  if (req.detach) {
    // The detached process inherits runc's stdio: /dev/null, as Docker
    // gives it (a pipe would hold this reply until the process ends, and
    // block the process once full). runc's own error goes to a log file.
    const logFile = join(cfg.runDir, `exec-${req.execId}.log`);
    const [bin, ...rest] = argv;
    const p = Bun.spawn([bin as string, "--log", logFile, ...rest], { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
    const code = await p.exited;
    let err = "";
    try {
      err = readFileSync(logFile, "utf8");
    } catch {
      // nothing logged
    }
    rmSync(logFile, { force: true });
    if (code !== 0) {
      const message = runtimeMessage(err);
      conn.reply({ ok: false, kind: "FailedPrecondition", message: message || `exec failed with status ${code}` });
    } else {
      try {
        const pid = Number(readFileSync(pidFile, "utf8").trim());
        if (pid > 0) ctr.adopt(pid);
      } catch {
        // no pid file: nothing to reap
      }
      rmSync(pidFile, { force: true });
      conn.reply({ ok: true });
    }
    rmSync(processFile, { force: true });
    conn.end();
    return;
  }

  conn.reply({ ok: true });
  let errText = "";
  let code: number;
  if (tty) {
    // As for the container's own terminal (Container.#startWithTerminal): a
    // pty made by spawn is runc's controlling terminal, and its EOF says
    // that all output was read.
    const pty = ptyClosed();
    const proc = Bun.spawn(argv, {
      terminal: {
        cols: 80,
        rows: 24,
        data: (_t, data) => {
          conn.frame(FRAME.STDOUT, data);
          if (!existsSync(pidFile)) errText += new TextDecoder().decode(data);
        },
        exit: pty.done,
      },
    });
    const term = proc.terminal as Terminal;
    ctr.execTerminals.set(req.execId, term);
    conn.onFrames((type, payload) => {
      if (type === FRAME.STDIN) term.write(payload);
      else if (type === FRAME.RESIZE) {
        const { rows, cols } = JSON.parse(new TextDecoder().decode(payload)) as { rows: number; cols: number };
        if (rows > 0 && cols > 0) {
          term.resize(cols, rows);
          tellResized(proc);
        }
      }
    });
    code = await proc.exited;
    await Promise.race([pty.closed, Bun.sleep(PTY_DRAIN_MS)]);
  } else {
    const proc = Bun.spawn(argv, { stdin: req.stdin ? "pipe" : "ignore", stdout: "pipe", stderr: "pipe" });
    const stdin = req.stdin ? (proc.stdin as FileSink) : undefined;
    let stdinGone = false;
    // EPIPE once the process closed its stdin: later input is dropped. Any of
    // these calls may answer with a promise that rejects; unhandled, that
    // would end the shim and leave the container unsupervised.
    const settle = (r: unknown): void => {
      if (r instanceof Promise) {
        r.catch(() => {
          stdinGone = true;
        });
      }
    };
    conn.onFrames((type, payload) => {
      if (!stdin || stdinGone) return;
      try {
        if (type === FRAME.STDIN) {
          settle(stdin.write(payload));
          settle(stdin.flush());
        } else if (type === FRAME.STDIN_EOF) {
          stdinGone = true;
          settle(stdin.end());
        }
      } catch {
        stdinGone = true;
      }
    });
    conn.onClose = () => {
      // The client went away: nobody will close stdin for it.
      if (!stdin || stdinGone) return;
      stdinGone = true;
      try {
        settle(stdin.end());
      } catch {
        // already closed
      }
    };
    // Until the process runs, stderr is runc's (its log lines): held back, so
    // a failed start shows one clean error line rather than runc's log.
    let held: Uint8Array[] = [];
    const release = (): void => {
      for (const h of held) conn.frame(FRAME.STDERR, h);
      held = [];
    };
    const pump = async (body: ReadableStream<Uint8Array>, type: number): Promise<void> => {
      for await (const chunk of body) {
        if (type === FRAME.STDERR && !existsSync(pidFile)) {
          errText += new TextDecoder().decode(chunk);
          held.push(chunk);
          continue;
        }
        release();
        conn.frame(type, chunk);
      }
    };
    const [c] = await Promise.all([proc.exited, pump(proc.stdout, FRAME.STDOUT), pump(proc.stderr, FRAME.STDERR)]);
    code = c;
    if (existsSync(pidFile) || code === 0) release();
    else conn.frame(FRAME.STDERR, `Error: ${runtimeMessage(errText) || `exec failed with status ${code}`}\n`);
  }
  // No pid file: the process never started (runc said why on stderr).
  if (!existsSync(pidFile) && code !== 0) code = startFailureCode(runtimeMessage(errText));
  conn.frame(FRAME.EXIT, JSON.stringify({ exitCode: code }));
  conn.end();
  cleanup();
}
