/** What a start under a unit adds to the shim's config and the container's spec. */
import { describe, expect, test } from "bun:test";
import type { OciSpec } from "../../../lib/oci/types.ts";
import { applyUnitSpec, shimUnitConfig, unitLabels, unitSpawnFds, unitStartFromEnv, withoutUnitEnv } from "../../../lib/systemd/unit-start.ts";

function spec(): OciSpec {
  return { process: { env: ["PATH=/bin", "LISTEN_FDS=9"] }, mounts: [{ destination: "/proc", type: "proc", source: "proc" }] } as unknown as OciSpec;
}

describe("unit environment", () => {
  test("NOTIFY_SOCKET and our own LISTEN_FDS are read; someone else's are not", () => {
    expect(unitStartFromEnv({ NOTIFY_SOCKET: "/run/n", LISTEN_FDS: "2", LISTEN_PID: "5", LISTEN_FDNAMES: "a:b", WATCHDOG_USEC: "3000000", WATCHDOG_PID: "5" }, 5)).toEqual({
      notifySocket: "/run/n",
      listenFds: { count: 2, names: "a:b" },
      watchdogUsec: "3000000",
    });
    expect(unitStartFromEnv({ LISTEN_FDS: "2", LISTEN_PID: "6" }, 5)).toBeUndefined();
    expect(unitStartFromEnv({ NOTIFY_SOCKET: "relative" }, 5)).toBeUndefined();
    expect(unitStartFromEnv({}, 5)).toBeUndefined();
  });

  test("the shim, the runtime and the container never see the manager's variables", () => {
    expect(withoutUnitEnv({ A: "1", NOTIFY_SOCKET: "/x", LISTEN_FDS: "1", LISTEN_PID: "2", LISTEN_FDNAMES: "n", WATCHDOG_USEC: "1", WATCHDOG_PID: "2" })).toEqual({ A: "1" });
  });

  test("the unit label for auto-update", () => {
    expect(unitLabels({ SKIFF_SYSTEMD_UNIT: "web.service" })).toEqual({ SKIFF_SYSTEMD_UNIT: "web.service" });
    expect(unitLabels({ PODMAN_SYSTEMD_UNIT: "old.service" })).toEqual({ SKIFF_SYSTEMD_UNIT: "old.service" });
    expect(unitLabels({})).toEqual({});
  });
});

describe("shim config and spec", () => {
  test("conmon (default): the shim notifies; nothing reaches the container", () => {
    const cfg = shimUnitConfig(undefined, { notifySocket: "@sd" }, { runDir: "/run/skiff/c/1", firstFd: 3 });
    expect(cfg).toEqual({ notify: { mode: "conmon", socket: "@sd" } });
    const s = spec();
    applyUnitSpec(s, cfg, { notifySocket: "@sd" });
    expect(s.process.env).toEqual(["PATH=/bin", "LISTEN_FDS=9"]);
    expect(s.mounts.length).toBe(1);
  });

  test("container: a proxy socket mounted at /run/notify, NOTIFY_SOCKET and WATCHDOG_USEC in the container", () => {
    const unit = { notifySocket: "/run/systemd/notify", watchdogUsec: "5000000" };
    const cfg = shimUnitConfig("container", unit, { runDir: "/run/skiff/c/1", firstFd: 3 });
    expect(cfg).toEqual({ notify: { mode: "container", socket: "/run/systemd/notify", proxy: "/run/skiff/c/1/notify/notify.sock" } });
    const s = spec();
    applyUnitSpec(s, cfg, unit);
    expect(s.mounts[1]).toEqual({ destination: "/run/notify", type: "bind", source: "/run/skiff/c/1/notify", options: ["bind", "rw", "nosuid", "nodev", "noexec", "rprivate"] });
    expect(s.process.env).toEqual(["PATH=/bin", "LISTEN_FDS=9", "NOTIFY_SOCKET=/run/notify/notify.sock", "WATCHDOG_USEC=5000000"]);
  });

  test("ignore: no notification, but socket activation still passes", () => {
    const unit = { notifySocket: "/run/systemd/notify", listenFds: { count: 2, names: "web:admin" } };
    const cfg = shimUnitConfig("ignore", unit, { runDir: "/r", firstFd: 4 });
    expect(cfg).toEqual({ listenFds: { from: 4, count: 2 } });
    expect(unitSpawnFds(cfg)).toEqual([3, 4]);
    const s = spec();
    applyUnitSpec(s, cfg, unit);
    // A stale LISTEN_FDS from the image or the user is replaced.
    expect(s.process.env).toEqual(["PATH=/bin", "LISTEN_FDS=2", "LISTEN_PID=1", "LISTEN_FDNAMES=web:admin"]);
  });

  test("no unit: nothing", () => {
    expect(shimUnitConfig("conmon", undefined, { runDir: "/r", firstFd: 3 })).toBeUndefined();
    expect(unitSpawnFds(undefined)).toEqual([]);
  });
});
