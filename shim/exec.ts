/**
 * `exec` inside a running container, run by its shim so the process lives in
 * the right namespaces (and, rootless, the right user namespace) with no
 * setup by the CLI. The connection carries the process's output as frames
 * and ends with its exit status.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { FileSink } from "bun";
import { execArgs, runtimeMessage, startFailureCode } from "../runtime/oci.ts";
import type { ShimConfig } from "./config.ts";
import type { Conn } from "./conn.ts";
import type { Container } from "./container.ts";
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
    const p = Bun.spawn(argv, { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
    const [code, err] = await Promise.all([p.exited, new Response(p.stderr).text()]);
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
    const term = new Bun.Terminal({
      cols: 80,
      rows: 24,
      data: (_t, data) => {
        conn.frame(FRAME.STDOUT, data);
        if (!existsSync(pidFile)) errText += new TextDecoder().decode(data);
      },
    });
    ctr.execTerminals.set(req.execId, term);
    const proc = Bun.spawn(argv, { terminal: term });
    conn.onFrames((type, payload) => {
      if (type === FRAME.STDIN) term.write(payload);
      else if (type === FRAME.RESIZE) {
        const { rows, cols } = JSON.parse(new TextDecoder().decode(payload)) as { rows: number; cols: number };
        if (rows > 0 && cols > 0) term.resize(cols, rows);
      }
    });
    code = await proc.exited;
    await Bun.sleep(30);
  } else {
    const proc = Bun.spawn(argv, { stdin: req.stdin ? "pipe" : "ignore", stdout: "pipe", stderr: "pipe" });
    const stdin = req.stdin ? (proc.stdin as FileSink) : undefined;
    conn.onFrames((type, payload) => {
      if (!stdin) return;
      try {
        if (type === FRAME.STDIN) {
          stdin.write(payload);
          void stdin.flush();
        } else if (type === FRAME.STDIN_EOF) void stdin.end();
      } catch {
        // the process closed its stdin
      }
    });
    conn.onClose = () => {
      // The client went away: nobody will close stdin for it.
      try {
        void stdin?.end();
      } catch {
        // already closed
      }
    };
    const pump = async (body: ReadableStream<Uint8Array>, type: number): Promise<void> => {
      for await (const chunk of body) {
        if (type === FRAME.STDERR && !existsSync(pidFile)) errText += new TextDecoder().decode(chunk);
        conn.frame(type, chunk);
      }
    };
    const [c] = await Promise.all([proc.exited, pump(proc.stdout, FRAME.STDOUT), pump(proc.stderr, FRAME.STDERR)]);
    code = c;
  }
  // No pid file: the process never started (runc said why on stderr).
  if (!existsSync(pidFile) && code !== 0) code = startFailureCode(runtimeMessage(errText));
  conn.frame(FRAME.EXIT, JSON.stringify({ exitCode: code }));
  conn.end();
  cleanup();
}
