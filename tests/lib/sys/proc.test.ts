import { describe, expect, test } from "bun:test";
import { processStartTime, sameProcess, terminateProcess } from "../../../lib/sys/proc.ts";

describe("processStartTime / sameProcess", () => {
  test("a live process has a start time; a reaped one has none", async () => {
    const p = Bun.spawn(["sleep", "30"]);
    const start = processStartTime(p.pid);
    expect(start).toBeGreaterThan(0);
    expect(sameProcess(p.pid, start as number)).toBe(true);
    expect(sameProcess(p.pid, (start as number) + 1)).toBe(false);
    p.kill("SIGKILL");
    await p.exited;
    expect(processStartTime(p.pid)).toBeUndefined();
  });
});

describe("terminateProcess", () => {
  test("SIGTERM ends a process that honours it, and returns once it is gone", async () => {
    const p = Bun.spawn(["sleep", "30"]);
    const t = Date.now();
    await terminateProcess(p.pid, 5000);
    expect(Date.now() - t).toBeLessThan(2000);
    expect(sameProcess(p.pid, 0)).toBe(false);
    expect(await p.exited).toBe(143);
  });

  test("a process that ignores SIGTERM is killed after the grace period", async () => {
    const p = Bun.spawn(["sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.05; done"], { stdout: "pipe" });
    const reader = p.stdout.getReader();
    await reader.read(); // the trap is set
    const t = Date.now();
    await terminateProcess(p.pid, 300);
    expect(Date.now() - t).toBeGreaterThanOrEqual(300);
    expect(sameProcess(p.pid, 0)).toBe(false);
    expect(await p.exited).toBe(137);
  });

  test("a pid that is gone is left alone", async () => {
    const p = Bun.spawn(["true"]);
    await p.exited;
    await terminateProcess(p.pid);
    expect(sameProcess(p.pid, 0)).toBe(false);
  });
});
