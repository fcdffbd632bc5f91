import { describe, expect, test } from "bun:test";
import {
  decodeNotify,
  effectiveMode,
  encodeNotify,
  listenEnv,
  listenFdsFor,
  parseSdNotifyMode,
  relayMessage,
  startMessage,
  validNotifySocket,
} from "../../../lib/systemd/notify.ts";
import { sockaddrUn } from "../../../lib/sys/unixdgram.ts";

describe("sd_notify messages", () => {
  test("encoding: newline-separated assignments, no trailing newline", () => {
    expect(encodeNotify([["MAINPID", 42], ["READY", 1]])).toBe("MAINPID=42\nREADY=1");
    expect(encodeNotify([["STATUS", "serving on :80"]])).toBe("STATUS=serving on :80");
    expect(() => encodeNotify([["bad key", 1]])).toThrow("invalid notify key");
    expect(() => encodeNotify([["STATUS", "a\nb"]])).toThrow("newline");
  });

  test("decoding drops lines without a key", () => {
    expect(decodeNotify("READY=1\nnonsense\n=x\nSTATUS=a=b\n")).toEqual([
      ["READY", "1"],
      ["STATUS", "a=b"],
    ]);
  });

  test("start messages per mode: conmon says READY at once, the others only MAINPID", () => {
    expect(startMessage("conmon", 1234)).toBe("MAINPID=1234\nREADY=1");
    expect(startMessage("container", 1234)).toBe("MAINPID=1234");
    expect(startMessage("healthy", 1234)).toBe("MAINPID=1234");
  });

  test("relay: READY gets the shim's MAINPID; the container's MAINPID, NOTIFYACCESS and FDSTORE are dropped", () => {
    expect(relayMessage("READY=1\nSTATUS=up\nMAINPID=1", 77)).toBe("MAINPID=77\nREADY=1\nSTATUS=up");
    expect(relayMessage("STATUS=starting", 77)).toBe("STATUS=starting");
    expect(relayMessage("WATCHDOG=1", 77)).toBe("WATCHDOG=1");
    expect(relayMessage("RELOADING=1\nMONOTONIC_USEC=123", 77)).toBe("RELOADING=1\nMONOTONIC_USEC=123");
    expect(relayMessage("MAINPID=1\nNOTIFYACCESS=all\nFDSTORE=1\nFDNAME=x", 77)).toBeUndefined();
    expect(relayMessage("<13>Nov 22 13:00:00 root: x\nREADY=1", 9)).toBe("MAINPID=9\nREADY=1");
  });

  test("modes: conmon is the default under a unit; ignore and no socket mean nothing", () => {
    expect(effectiveMode(undefined, "/run/systemd/notify")).toBe("conmon");
    expect(effectiveMode("container", "/run/systemd/notify")).toBe("container");
    expect(effectiveMode("ignore", "/run/systemd/notify")).toBeUndefined();
    expect(effectiveMode("conmon", undefined)).toBeUndefined();
    expect(parseSdNotifyMode("healthy")).toBe("healthy");
    expect(() => parseSdNotifyMode("always")).toThrow("invalid --sdnotify value");
  });

  test("NOTIFY_SOCKET: a path or an abstract name", () => {
    expect(validNotifySocket("/run/user/1000/systemd/notify")).toBe(true);
    expect(validNotifySocket("@/org/freedesktop/systemd1/notify/123")).toBe(true);
    expect(validNotifySocket("@")).toBe(false);
    expect(validNotifySocket("relative")).toBe(false);
    expect(validNotifySocket(undefined)).toBe(false);
  });
});

describe("socket activation", () => {
  test("LISTEN_FDS counts only when LISTEN_PID is ours", () => {
    expect(listenFdsFor({ LISTEN_FDS: "2", LISTEN_PID: "10", LISTEN_FDNAMES: "http:https" }, 10)).toEqual({ count: 2, names: "http:https" });
    expect(listenFdsFor({ LISTEN_FDS: "2", LISTEN_PID: "11" }, 10)).toBeUndefined();
    expect(listenFdsFor({ LISTEN_FDS: "0", LISTEN_PID: "10" }, 10)).toBeUndefined();
    expect(listenFdsFor({ LISTEN_FDS: "x" }, 10)).toBeUndefined();
    expect(listenFdsFor({}, 10)).toBeUndefined();
  });

  test("the container sees its init as the listener", () => {
    expect(listenEnv({ count: 2, names: "a:b" })).toEqual(["LISTEN_FDS=2", "LISTEN_PID=1", "LISTEN_FDNAMES=a:b"]);
    expect(listenEnv({ count: 1 })).toEqual(["LISTEN_FDS=1", "LISTEN_PID=1"]);
  });
});

describe("sockaddr_un", () => {
  test("a path is NUL-terminated; an abstract name starts with NUL and is not", () => {
    const p = sockaddrUn("/run/n");
    expect(p.len).toBe(2 + 6 + 1);
    expect([...p.addr.subarray(0, 9)]).toEqual([1, 0, ...Buffer.from("/run/n"), 0]);
    const a = sockaddrUn("@name");
    expect(a.len).toBe(2 + 1 + 4);
    expect([...a.addr.subarray(0, 7)]).toEqual([1, 0, 0, ...Buffer.from("name")]);
  });

  test("too long for sun_path", () => {
    expect(() => sockaddrUn(`/${"x".repeat(107)}`)).toThrow("EINVAL");
    expect(sockaddrUn(`/${"x".repeat(106)}`).len).toBe(2 + 107 + 1);
  });
});
