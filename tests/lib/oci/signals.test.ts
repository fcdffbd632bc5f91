import { describe, expect, test } from "bun:test";
import { parseSignal } from "../../../lib/oci/signals.ts";
import { expectError } from "./helpers.ts";

describe("parseSignal", () => {
  test("names with or without SIG, any case, and numbers", () => {
    expect(parseSignal("SIGTERM")).toBe(15);
    expect(parseSignal("TERM")).toBe(15);
    expect(parseSignal("sigkill")).toBe(9);
    expect(parseSignal("15")).toBe(15);
    expect(parseSignal("SIGWINCH")).toBe(28);
    expect(parseSignal("SIGUSR1")).toBe(10);
    expect(parseSignal("SIGCHLD")).toBe(17);
    expect(parseSignal("SIGIOT")).toBe(6);
    expect(parseSignal(" hup ")).toBe(1);
    expect(parseSignal("64")).toBe(64);
  });

  test("real-time signals: RTMIN counts up, RTMAX down", () => {
    expect(parseSignal("SIGRTMIN")).toBe(34);
    expect(parseSignal("SIGRTMIN+3")).toBe(37);
    expect(parseSignal("RTMIN+30")).toBe(64);
    expect(parseSignal("SIGRTMAX")).toBe(64);
    expect(parseSignal("SIGRTMAX-1")).toBe(63);
    expect(parseSignal("rtmax-30")).toBe(34);
  });

  test("unknown names and out-of-range numbers are InvalidArgument", () => {
    expectError(() => parseSignal("SIGFOO"), "invalid signal: SIGFOO");
    expectError(() => parseSignal("0"), "invalid signal: 0");
    expectError(() => parseSignal("65"), "invalid signal");
    expectError(() => parseSignal(""), "invalid signal");
    expectError(() => parseSignal("SIGRTMIN+31"), "invalid signal");
    expectError(() => parseSignal("SIGRTMIN-1"), "invalid signal");
    expectError(() => parseSignal("SIGRTMAX+1"), "invalid signal");
    expectError(() => parseSignal("-9"), "invalid signal");
  });
});
