/** Which plans wait for a network helper, and the hook that makes the container's process wait for it. */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { needsHelper, networkReadyHook, networkReadyPath, slirpPlan } from "../../../lib/network/plan.ts";

describe("the network-ready gate", () => {
  test("plans with a helper wait for it; none, host and a shared namespace do not", () => {
    expect(needsHelper(slirpPlan({ slirp: "/usr/bin/slirp4netns", runDir: "/run/c", ports: [] }))).toBe(true);
    expect(needsHelper({ mode: "netns", netns: "/run/c/netns" } as Parameters<typeof needsHelper>[0])).toBe(true);
    expect(needsHelper({ mode: "none" })).toBe(false);
    expect(needsHelper({ mode: "host" })).toBe(false);
  });

  test("the hook reads the FIFO in the run directory and succeeds only on ok", async () => {
    const hook = networkReadyHook("/run/c");
    expect(networkReadyPath("/run/c")).toBe("/run/c/net-ready");
    expect(hook.path).toBe("/bin/sh");
    expect(hook.args.at(-1)).toBe("/run/c/net-ready");
    expect(hook.timeout).toBeGreaterThan(0);
    // The shell part, run against a plain file standing in for the FIFO.
    const dir = mkdtempSync(join(tmpdir(), "skiff-hook-"));
    try {
      for (const [answer, code] of [["ok\n", 0], ["no\n", 1], ["", 1]] as const) {
        await Bun.write(`${dir}/net-ready`, answer);
        const args = [...hook.args.slice(1, -1), `${dir}/net-ready`];
        const p = Bun.spawn([hook.path, ...args], { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
        expect([answer, await p.exited]).toEqual([answer, code]);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
