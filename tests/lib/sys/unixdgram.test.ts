/** The datagram socket calls against an independent peer (python3), on a path and on an abstract name. */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatagramSocket, sendDatagram } from "../../../lib/sys/unixdgram.ts";
import { python3SkipReason, startNotifyListener } from "../../helpers/notify-socket.ts";

const skip = python3SkipReason();
if (skip) console.warn(`skipping unix datagram tests: ${skip}`);
const dir = mkdtempSync(join(tmpdir(), "skiff-dgram-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(skip !== undefined)("unix datagrams", () => {
  for (const kind of ["path", "abstract"] as const) {
    test(`sendDatagram reaches a ${kind} socket with our pid as the sender`, async () => {
      const address = kind === "path" ? join(dir, "n.sock") : `@skiff-test-${process.pid}-${Date.now()}`;
      const l = await startNotifyListener(address);
      try {
        sendDatagram(address, "MAINPID=1\nREADY=1");
        sendDatagram(address, "STATUS=é");
        const msgs = await l.waitFor((m) => m.length >= 2, 5000);
        expect(msgs.map((m) => m.data)).toEqual(["MAINPID=1\nREADY=1", "STATUS=é"]);
        expect(msgs[0]?.pid).toBe(process.pid);
      } finally {
        l.stop();
      }
    });
  }

  test("sending where nobody listens fails with the errno", () => {
    expect(() => sendDatagram(join(dir, "nobody.sock"), "READY=1")).toThrow("ENOENT");
  });

  test("a bound socket receives what is sent to it, one datagram at a time, and reports none when empty", async () => {
    const address = join(dir, "bound.sock");
    const sock = DatagramSocket.bind(address);
    try {
      expect(sock.receive()).toBeUndefined();
      const p = Bun.spawn(["python3", "-c", `import socket; s=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.sendto(b"READY=1", "${address}"); s.sendto(b"STATUS=x", "${address}")`]);
      expect(await p.exited).toBe(0);
      expect(new TextDecoder().decode(sock.receive())).toBe("READY=1");
      expect(new TextDecoder().decode(sock.receive())).toBe("STATUS=x");
      expect(sock.receive()).toBeUndefined();
    } finally {
      sock.close();
    }
    expect(() => DatagramSocket.bind(address)).toThrow("EADDRINUSE");
  });
});
