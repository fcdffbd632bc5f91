import { describe, expect, test } from "bun:test";
import type { z } from "zod";
import { createOptions, type MountOption, type mountSchema } from "../../../lib/containers/options.ts";
import { defaultMounts, etcFileMounts, initMount, tmpfsOptions, userMounts, withoutOverridden } from "../../../lib/oci/mounts.ts";
import { expectError } from "./helpers.ts";

/** Mounts as a caller writes them, with the schema's defaults filled in. */
function mounts(list: z.input<typeof mountSchema>[]): MountOption[] {
  return createOptions({ mounts: list }).mounts;
}

describe("defaultMounts", () => {
  const root = defaultMounts({ rootless: false, privileged: false, hostNetwork: false });

  test("Docker's defaults in Docker's order, /dev/shm 64 MiB", () => {
    expect(root.map((m) => m.destination)).toEqual(["/proc", "/dev", "/dev/pts", "/sys", "/sys/fs/cgroup", "/dev/mqueue", "/dev/shm"]);
    expect(root[0]).toEqual({ destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"] });
    expect(root[1]?.options).toEqual(["nosuid", "strictatime", "mode=755", "size=65536k"]);
    expect(root[2]?.options).toEqual(["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]);
    expect(root[3]).toEqual({ destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"] });
    expect(root[4]).toEqual({ destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup", options: ["ro", "nosuid", "noexec", "nodev"] });
    expect(root[6]).toEqual({ destination: "/dev/shm", type: "tmpfs", source: "shm", options: ["nosuid", "noexec", "nodev", "mode=1777", "size=67108864"] });
  });

  test("--shm-size", () => {
    const m = defaultMounts({ rootless: false, privileged: false, hostNetwork: false, shmSize: 1 << 20 });
    expect(m[6]?.options).toContain("size=1048576");
  });

  test("rootless keeps sysfs in its own network namespace, and binds /sys read-only recursively with the host's", () => {
    expect(defaultMounts({ rootless: true, privileged: false, hostNetwork: false })).toEqual(root);
    const hostNet = defaultMounts({ rootless: true, privileged: false, hostNetwork: true });
    expect(hostNet[3]).toEqual({ destination: "/sys", type: "bind", source: "/sys", options: ["rbind", "nosuid", "noexec", "nodev", "rro"] });
    // Root may mount sysfs in the host's network namespace.
    expect(defaultMounts({ rootless: false, privileged: false, hostNetwork: true })[3]?.type).toBe("sysfs");
  });

  test("privileged: /sys writable; cgroups writable only as real root", () => {
    const priv = defaultMounts({ rootless: false, privileged: true, hostNetwork: false });
    expect(priv[3]?.options).toEqual(["nosuid", "noexec", "nodev"]);
    expect(priv[4]?.options).toEqual(["nosuid", "noexec", "nodev"]);
    const rl = defaultMounts({ rootless: true, privileged: true, hostNetwork: true });
    expect(rl[3]?.options).toEqual(["rbind", "nosuid", "noexec", "nodev"]);
    expect(rl[4]?.options).toContain("ro");
  });
});

describe("etcFileMounts and initMount", () => {
  test("resolv.conf, hostname, hosts in Docker's order; read-only with a read-only root", () => {
    const files = { hosts: "/run/c/hosts", resolvConf: "/run/c/resolv.conf", hostname: "/run/c/hostname" };
    expect(etcFileMounts(files, false)).toEqual([
      { destination: "/etc/resolv.conf", type: "bind", source: "/run/c/resolv.conf", options: ["rbind", "nosuid", "nodev", "noexec", "rprivate"] },
      { destination: "/etc/hostname", type: "bind", source: "/run/c/hostname", options: ["rbind", "nosuid", "nodev", "noexec", "rprivate"] },
      { destination: "/etc/hosts", type: "bind", source: "/run/c/hosts", options: ["rbind", "nosuid", "nodev", "noexec", "rprivate"] },
    ]);
    expect(etcFileMounts({ hosts: "/h" }, true)).toEqual([
      { destination: "/etc/hosts", type: "bind", source: "/h", options: ["rbind", "ro", "nosuid", "nodev", "noexec", "rprivate"] },
    ]);
    expect(etcFileMounts({}, false)).toEqual([]);
    expectError(() => etcFileMounts({ hosts: "hosts" }, false), '/etc/hosts: source "hosts" is not an absolute path');
  });

  test("init binary: read-only bind at /sbin/docker-init", () => {
    expect(initMount("/usr/bin/tini-static")).toEqual({
      destination: "/sbin/docker-init",
      type: "bind",
      source: "/usr/bin/tini-static",
      options: ["bind", "ro", "nosuid", "nodev"],
    });
    expectError(() => initMount("tini"), "not an absolute path");
  });
});

describe("userMounts", () => {
  test("bind: rbind + rprivate by default; ro becomes rro; propagation and flags kept", () => {
    const { mounts: out, rootfsPropagation } = userMounts(
      mounts([
        { type: "bind", source: "/srv/data", target: "/data" },
        { type: "bind", source: "/srv/conf/", target: "/etc/app/", readOnly: true },
        { type: "bind", source: "/srv/x", target: "/x", options: ["ro", "Z", "nosuid", "nodev", "rslave"] },
        { type: "bind", source: "/srv/y", target: "/y", options: ["bind", "ro", "rw"] },
      ]),
    );
    expect(out).toEqual([
      { destination: "/data", type: "bind", source: "/srv/data", options: ["rbind", "rprivate"] },
      { destination: "/x", type: "bind", source: "/srv/x", options: ["rbind", "rro", "nosuid", "nodev", "rslave"] },
      { destination: "/y", type: "bind", source: "/srv/y", options: ["bind", "ro", "rprivate"] },
      { destination: "/etc/app", type: "bind", source: "/srv/conf", options: ["rbind", "rro", "rprivate"] },
    ]);
    expect(rootfsPropagation).toBe("rslave");
  });

  test("shared propagation asks for a shared rootfs", () => {
    const r = userMounts(mounts([{ type: "bind", source: "/a", target: "/a", options: ["rshared"] }]));
    expect(r.rootfsPropagation).toBe("shared");
    expect(userMounts(mounts([{ type: "bind", source: "/a", target: "/a" }])).rootfsPropagation).toBeUndefined();
  });

  test("volumes resolved to a host path are binds; unresolved ones are InvalidArgument", () => {
    expect(userMounts(mounts([{ type: "volume", source: "/var/lib/skiff/volumes/v/_data", target: "/v" }])).mounts).toEqual([
      { destination: "/v", type: "bind", source: "/var/lib/skiff/volumes/v/_data", options: ["rbind", "rprivate"] },
    ]);
    expectError(() => userMounts(mounts([{ type: "volume", target: "/v" }])), "volume mount at /v: no source (volumes must be resolved to a host path first)");
    expectError(() => userMounts(mounts([{ type: "volume", source: "myvol", target: "/v" }])), 'volume mount at /v: source "myvol" is not an absolute path');
  });

  test("bind sources must be given and absolute", () => {
    expectError(() => userMounts(mounts([{ type: "bind", target: "/a" }])), "bind mount at /a: no source");
    expectError(() => userMounts(mounts([{ type: "bind", source: "rel/dir", target: "/a" }])), 'bind mount at /a: source "rel/dir" is not an absolute path');
  });

  test("tmpfs: Docker's defaults, user options, read-only", () => {
    expect(userMounts(mounts([{ type: "tmpfs", target: "/run" }])).mounts).toEqual([
      { destination: "/run", type: "tmpfs", source: "tmpfs", options: ["noexec", "nosuid", "nodev", "rprivate"] },
    ]);
    expect(userMounts(mounts([{ type: "tmpfs", target: "/t", readOnly: true, options: ["size=64m", "mode=1770", "exec"] }])).mounts[0]?.options).toEqual([
      "nosuid",
      "nodev",
      "rprivate",
      "size=64m",
      "mode=1770",
      "exec",
      "ro",
    ]);
  });

  test("targets: absolute, normalised, not /, no duplicates; parents before children, stable", () => {
    const out = userMounts(
      mounts([
        { type: "tmpfs", target: "/a/b/c" },
        { type: "tmpfs", target: "/z" },
        { type: "tmpfs", target: "/a/./b/" },
        { type: "tmpfs", target: "/a" },
        { type: "tmpfs", target: "/m" },
      ]),
    ).mounts.map((m) => m.destination);
    expect(out).toEqual(["/z", "/a", "/m", "/a/b", "/a/b/c"]);
    expectError(() => userMounts(mounts([{ type: "tmpfs", target: "data" }])), 'invalid mount target "data": it must be an absolute path');
    expectError(() => userMounts(mounts([{ type: "tmpfs", target: "/" }])), "cannot mount over the container's root");
    expectError(() => userMounts(mounts([{ type: "tmpfs", target: "/x/.." }])), "cannot mount over the container's root");
    expectError(
      () => userMounts(mounts([{ type: "tmpfs", target: "/data" }, { type: "bind", source: "/d", target: "/data/" }])),
      "duplicate mount target /data",
    );
  });

  test("bad options are InvalidArgument", () => {
    expectError(() => userMounts(mounts([{ type: "bind", source: "/a", target: "/a", options: ["size=1m"] }])), 'bind mount at /a: invalid option "size=1m"');
    expectError(() => userMounts(mounts([{ type: "bind", source: "/a", target: "/a", options: ["shared", "slave"] }])), "conflicting propagation shared and slave");
    expectError(() => userMounts(mounts([{ type: "tmpfs", target: "/t", options: ["bogus=1"] }])), 'tmpfs mount at /t: invalid option "bogus=1"');
  });
});

describe("tmpfsOptions", () => {
  test("later options of the same kind win (moby MergeTmpfsOptions)", () => {
    expect(tmpfsOptions(["size=1m", "size=2m", "noexec", "exec", "suid"], { readOnly: false, target: "/t" })).toEqual(["nodev", "rprivate", "size=2m", "exec", "suid"]);
    expect(tmpfsOptions(["rw", "defaults", "z", "uid=1000", "gid=1000", "nr_inodes=10"], { readOnly: false, target: "/t" })).toEqual([
      "noexec",
      "nosuid",
      "nodev",
      "rprivate",
      "rw",
      "uid=1000",
      "gid=1000",
      "nr_inodes=10",
    ]);
    expect(tmpfsOptions(["rw"], { readOnly: true, target: "/t" })).toEqual(["noexec", "nosuid", "nodev", "rprivate", "ro"]);
    expect(tmpfsOptions(["private"], { readOnly: false, target: "/t" })).toEqual(["noexec", "nosuid", "nodev", "private"]);
  });
});

describe("withoutOverridden", () => {
  test("a user mount replaces the default at its target; /dev replaces everything under it", () => {
    const defaults = defaultMounts({ rootless: false, privileged: false, hostNetwork: false });
    expect(withoutOverridden(defaults, [{ destination: "/dev/shm", type: "bind", source: "/x" }]).map((m) => m.destination)).toEqual([
      "/proc",
      "/dev",
      "/dev/pts",
      "/sys",
      "/sys/fs/cgroup",
      "/dev/mqueue",
    ]);
    expect(withoutOverridden(defaults, [{ destination: "/dev", type: "bind", source: "/dev" }]).map((m) => m.destination)).toEqual([
      "/proc",
      "/sys",
      "/sys/fs/cgroup",
    ]);
  });
});
