/**
 * A stand-in for systemd's notification socket (tests/helpers/notify-listener.py):
 * a unix datagram socket bound by python3 with SO_PASSCRED, so each message
 * comes with the sender's pid as the kernel reports it (what systemd checks).
 * Bun has no unix datagram sockets of its own.
 *
 *   const n = await startNotifyListener(join(dir, "notify.sock"));   // or "@abstract-name"
 *   ... run with NOTIFY_SOCKET=n.address ...
 *   const msgs = await n.waitFor((m) => m.some((x) => x.data.includes("READY=1")));
 *   n.stop();
 */
import { join } from "node:path";

export interface NotifyMessage {
  pid: number | null;
  uid: number | null;
  data: string;
}

export interface NotifyListener {
  address: string;
  messages: NotifyMessage[];
  /** Resolves with the messages once `done(messages)` holds; rejects after `timeoutMs`. */
  waitFor(done: (m: NotifyMessage[]) => boolean, timeoutMs?: number): Promise<NotifyMessage[]>;
  stop(): void;
}

export const LISTENER_SCRIPT = join(import.meta.dir, "notify-listener.py");
export const HARNESS_SCRIPT = join(import.meta.dir, "unit-harness.py");

export function python3SkipReason(): string | undefined {
  return Bun.which("python3") ? undefined : "python3 is not installed (the notify socket stand-in needs it)";
}

export async function startNotifyListener(address: string): Promise<NotifyListener> {
  const proc = Bun.spawn(["python3", LISTENER_SCRIPT, address], { stdin: "ignore", stdout: "pipe", stderr: "inherit" });
  const messages: NotifyMessage[] = [];
  let ready!: () => void;
  const bound = new Promise<void>((r) => {
    ready = r;
  });
  void (async () => {
    let buf = "";
    for await (const chunk of proc.stdout as ReadableStream<Uint8Array>) {
      buf += new TextDecoder().decode(chunk);
      for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
        const line = JSON.parse(buf.slice(0, nl)) as NotifyMessage & { ready?: boolean };
        buf = buf.slice(nl + 1);
        if (line.ready) ready();
        else messages.push(line);
      }
    }
  })();
  await Promise.race([bound, Bun.sleep(10_000).then(() => Promise.reject(new Error("notify listener did not start")))]);
  return {
    address,
    messages,
    async waitFor(done, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (!done(messages)) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for notify messages; got ${JSON.stringify(messages)}`);
        await Bun.sleep(20);
      }
      return messages;
    },
    stop() {
      proc.kill();
    },
  };
}
