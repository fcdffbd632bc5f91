import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createOptions } from "../../../lib/containers/options.ts";
import type { ContainerConfig } from "../../../lib/images/manifest.ts";
import {
  ALL_CAPABILITIES,
  buildSpec,
  DOCKER_DEFAULT_CAPABILITIES,
  type OciSpec,
  RLIM_INFINITY,
  serializeSpec,
  type SpecInput,
} from "../../../lib/oci/spec.ts";
import { expectError } from "./helpers.ts";

const FIXTURES = join(import.meta.dir, "..", "..", "fixtures", "oci");
const ID = "3f1c9b2a7d4e5f60718293a4b5c6d7e8f90123456789abcdef0123456789abcd";
/** busybox's image config, as Docker Hub serves it. */
const BUSYBOX: ContainerConfig = { Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], Cmd: ["sh"] };
const PASSWD = "root:x:0:0:root:/root:/bin/sh\nwww-data:x:33:33:www-data:/var/www:/bin/false\nnobody:x:65534:65534:nobody:/home:/bin/false\n";
const GROUP = "root:x:0:\ntty:x:5:\nwww-data:x:33:\nusers:x:100:www-data\nnogroup:x:65534:\n";

function input(over: Partial<SpecInput> & { opts?: Parameters<typeof createOptions>[0] } = {}): SpecInput {
  const { opts, ...rest } = over;
  return {
    id: ID,
    options: createOptions(opts ?? {}),
    image: BUSYBOX,
    rootfs: "/run/skiff/containers/3f1c9b2a7d4e/rootfs",
    passwd: PASSWD,
    group: GROUP,
    rootless: false,
    ...rest,
  };
}

function spec(over: Parameters<typeof input>[0] = {}): OciSpec {
  return buildSpec(input(over));
}

/** Compares with tests/fixtures/oci/<name>; UPDATE_GOLDEN=1 rewrites the file. */
function golden(name: string, s: OciSpec): void {
  const path = join(FIXTURES, name);
  const text = serializeSpec(s);
  if (process.env.UPDATE_GOLDEN === "1") writeFileSync(path, text);
  if (!existsSync(path)) throw new Error(`${path} is missing: run with UPDATE_GOLDEN=1 to write it`);
  expect(text).toBe(readFileSync(path, "utf8"));
}

describe("buildSpec: golden files", () => {
  const files = { hosts: "/run/skiff/containers/3f1c9b2a7d4e/hosts", resolvConf: "/run/skiff/containers/3f1c9b2a7d4e/resolv.conf", hostname: "/run/skiff/containers/3f1c9b2a7d4e/hostname" };

  test("`run busybox` as root", () => {
    golden("busybox-root.json", spec({ files, defaultNofile: { soft: 1048576, hard: 1048576 }, arch: "x64" }));
  });

  test("`run busybox` rootless", () => {
    golden("busybox-rootless.json", spec({ files, rootless: true, defaultNofile: { soft: 1024, hard: 524288 } }));
  });

  test("rootless with the host's network, --init, a user, read-only root, mounts, limits", () => {
    const s = spec({
      rootless: true,
      network: "host",
      initPath: "/usr/libexec/skiff/tini",
      files,
      defaultNofile: { soft: 1024, hard: 524288 },
      annotations: { "org.opencontainers.image.ref.name": "busybox" },
      opts: {
        cmd: ["httpd", "-f", "-p", "8080"],
        user: "www-data",
        groupAdd: ["users"],
        workdir: "/var/www",
        env: ["MODE=prod"],
        hostname: "web",
        init: true,
        readOnly: true,
        tty: true,
        capDrop: ["ALL"],
        capAdd: ["NET_BIND_SERVICE"],
        securityOpt: ["no-new-privileges"],
        ulimits: [{ name: "core", soft: 0, hard: -1 }],
        shmSize: 16 * 1024 * 1024,
        mounts: [
          { type: "volume", source: "/home/u/.local/share/skiff/volumes/site/_data", target: "/var/www", readOnly: true },
          { type: "tmpfs", target: "/tmp", options: ["size=8m"] },
          { type: "bind", source: "/home/u/logs", target: "/var/log/httpd" },
        ],
      },
    });
    golden("busybox-rootless-hostnet.json", s);
    // RLIM_INFINITY is written as the exact 64-bit value runc expects.
    expect(serializeSpec(s)).toContain('"hard": 18446744073709551615');
  });
});

describe("buildSpec: process", () => {
  test("args, env, cwd, user, terminal from image and options", () => {
    const s = spec({ opts: { cmd: ["id"], env: ["A=1"], workdir: "/tmp", user: "www-data", tty: true } });
    expect(s.process.args).toEqual(["id"]);
    expect(s.process.env).toEqual([
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      "HOSTNAME=3f1c9b2a7d4e",
      "TERM=xterm",
      "A=1",
      "HOME=/var/www",
    ]);
    expect(s.process.cwd).toBe("/tmp");
    expect(s.process.user).toEqual({ uid: 33, gid: 33, additionalGids: [33, 100] });
    expect(s.process.terminal).toBe(true);
  });

  test("the image's User, WorkingDir and Entrypoint apply when the options say nothing", () => {
    const s = spec({ image: { ...BUSYBOX, User: "nobody", WorkingDir: "/srv", Entrypoint: ["/bin/sh", "-c"], Cmd: ["echo hi"] } });
    expect(s.process.user.uid).toBe(65534);
    expect(s.process.cwd).toBe("/srv");
    expect(s.process.args).toEqual(["/bin/sh", "-c", "echo hi"]);
    expect(spec({ image: { ...BUSYBOX, User: "nobody" }, opts: { user: "0" } }).process.user.uid).toBe(0);
  });

  test("--init puts /sbin/docker-init first and mounts it; not when joining a PID namespace", () => {
    const s = spec({ initPath: "/usr/bin/tini-static", opts: { init: true, cmd: ["sleep", "1"] } });
    expect(s.process.args).toEqual(["/sbin/docker-init", "--", "sleep", "1"]);
    expect(s.mounts.find((m) => m.destination === "/sbin/docker-init")).toEqual({
      destination: "/sbin/docker-init",
      type: "bind",
      source: "/usr/bin/tini-static",
      options: ["bind", "ro", "nosuid", "nodev"],
    });
    const joined = spec({ initPath: "/usr/bin/tini-static", join: { pid: "/proc/9/ns/pid" }, opts: { init: true } });
    expect(joined.process.args).toEqual(["sh"]);
    expect(joined.mounts.some((m) => m.destination === "/sbin/docker-init")).toBe(false);
    expectError(() => spec({ opts: { init: true } }), "--init: no init binary available", "FailedPrecondition");
  });

  test("capabilities: the list in bounding, effective and permitted; inheritable and ambient empty", () => {
    const caps = spec().process.capabilities;
    expect(caps).toEqual({
      bounding: [...DOCKER_DEFAULT_CAPABILITIES],
      effective: [...DOCKER_DEFAULT_CAPABILITIES],
      inheritable: [],
      permitted: [...DOCKER_DEFAULT_CAPABILITIES],
      ambient: [],
    });
    expect(spec({ opts: { capAdd: ["sys_admin"] } }).process.capabilities.effective).toContain("CAP_SYS_ADMIN");
    expectError(() => spec({ opts: { capAdd: ["warp"] } }), "unknown capability");
  });

  test("noNewPrivileges only when asked; rlimits from ulimits and the default nofile", () => {
    expect(spec().process.noNewPrivileges).toBeUndefined();
    expect(spec({ opts: { securityOpt: ["no-new-privileges:true"] } }).process.noNewPrivileges).toBe(true);
    expect(spec().process.rlimits).toBeUndefined();
    expect(spec({ defaultNofile: { soft: 1048576, hard: 1048576 } }).process.rlimits).toEqual([{ type: "RLIMIT_NOFILE", soft: 1048576, hard: 1048576 }]);
    expect(spec({ opts: { ulimits: [{ name: "nofile", soft: 10, hard: -1 }] }, defaultNofile: { soft: 1, hard: 1 } }).process.rlimits).toEqual([
      { type: "RLIMIT_NOFILE", soft: 10, hard: RLIM_INFINITY },
    ]);
  });

  test("invalid options surface as InvalidArgument", () => {
    expectError(() => spec({ opts: { workdir: "relative" } }), "must be an absolute path");
    expectError(() => spec({ opts: { user: "ghost" } }), "unable to find user ghost");
    expectError(() => spec({ image: {}, opts: {} }), "no command specified");
    expectError(() => spec({ opts: { sysctls: { "kernel.panic": "1" } } }), "sysctl kernel.panic is not allowed");
    expectError(() => spec({ rootfs: "" }), "empty rootfs path");
  });
});

describe("buildSpec: hostname", () => {
  test("the first 12 characters of the id, or --hostname; --domainname", () => {
    expect(spec().hostname).toBe("3f1c9b2a7d4e");
    const s = spec({ opts: { hostname: "web", domainname: "example.com" } });
    expect(s.hostname).toBe("web");
    expect(s.domainname).toBe("example.com");
    // runc 1.1 ignores the domainname field; the sysctl sets it there too.
    expect(s.linux.sysctl?.["kernel.domainname"]).toBe("example.com");
    // Rootless the sysctl cannot be written: only the field.
    const rl = spec({ rootless: true, opts: { domainname: "example.com" } });
    expect(rl.domainname).toBe("example.com");
    expect(rl.linux.sysctl?.["kernel.domainname"]).toBeUndefined();
    expect(s.process.env).toContain("HOSTNAME=web");
    expectError(() => spec({ opts: { hostname: "x".repeat(65) } }), "is too long (maximum 64 bytes)");
  });

  test("host network: the host's name (none set) unless given", () => {
    const s = spec({ network: "host" });
    expect(s.hostname).toBeUndefined();
    expect(s.process.env.some((e) => e.startsWith("HOSTNAME="))).toBe(false);
    expect(spec({ network: "host", opts: { hostname: "h" } }).hostname).toBe("h");
  });

  test("a joined UTS namespace is not renamed", () => {
    const s = spec({ join: { uts: "/proc/5/ns/uts" }, opts: { hostname: "x", domainname: "d" } });
    expect(s.hostname).toBeUndefined();
    expect(s.domainname).toBeUndefined();
    expect(s.linux.sysctl?.["kernel.domainname"]).toBeUndefined();
    expect(s.process.env).toContain("HOSTNAME=x");
  });
});

describe("buildSpec: root and mounts", () => {
  test("root path and read-only flag", () => {
    expect(spec().root).toEqual({ path: "/run/skiff/containers/3f1c9b2a7d4e/rootfs", readonly: false });
    expect(spec({ opts: { readOnly: true } }).root.readonly).toBe(true);
  });

  test("order: defaults, init, /etc files, then the user's mounts sorted by depth", () => {
    const s = spec({
      initPath: "/tini",
      files: { hosts: "/f/hosts", resolvConf: "/f/resolv.conf" },
      opts: {
        init: true,
        mounts: [
          { type: "bind", source: "/h/b", target: "/data/b" },
          { type: "bind", source: "/h/a", target: "/data" },
        ],
      },
    });
    expect(s.mounts.map((m) => m.destination)).toEqual([
      "/proc",
      "/dev",
      "/dev/pts",
      "/sys",
      "/sys/fs/cgroup",
      "/dev/mqueue",
      "/dev/shm",
      "/sbin/docker-init",
      "/etc/resolv.conf",
      "/etc/hosts",
      "/data",
      "/data/b",
    ]);
  });

  test("a user mount replaces the default or generated one at its target", () => {
    const s = spec({
      files: { hosts: "/f/hosts" },
      opts: { mounts: [{ type: "bind", source: "/my/hosts", target: "/etc/hosts" }, { type: "tmpfs", target: "/dev/shm", options: ["size=1g"] }] },
    });
    expect(s.mounts.filter((m) => m.destination === "/etc/hosts")).toEqual([{ destination: "/etc/hosts", type: "bind", source: "/my/hosts", options: ["rbind", "rprivate"] }]);
    expect(s.mounts.filter((m) => m.destination === "/dev/shm")).toHaveLength(1);
    expect(s.mounts.find((m) => m.destination === "/dev/shm")?.source).toBe("tmpfs");
  });

  test("read-only root makes the generated /etc files read-only, not the user's writable mounts", () => {
    const s = spec({ files: { hostname: "/f/hostname" }, opts: { readOnly: true, mounts: [{ type: "bind", source: "/w", target: "/w" }] } });
    expect(s.mounts.find((m) => m.destination === "/etc/hostname")?.options).toContain("ro");
    expect(s.mounts.find((m) => m.destination === "/w")?.options).toEqual(["rbind", "rprivate"]);
  });

  test("--shm-size and mount validation", () => {
    expect(spec({ opts: { shmSize: 1 << 30 } }).mounts.find((m) => m.destination === "/dev/shm")?.options).toContain("size=1073741824");
    expectError(() => spec({ opts: { mounts: [{ type: "tmpfs", target: "/a" }, { type: "tmpfs", target: "/a" }] } }), "duplicate mount target /a");
    expectError(() => spec({ opts: { mounts: [{ type: "volume", target: "/v" }] } }), "volume mount at /v: no source");
    expectError(() => spec({ opts: { mounts: [{ type: "bind", source: "/x", target: "x" }] } }), "must be an absolute path");
  });

  test("rootfs propagation follows a shared or slave bind", () => {
    expect(spec().linux.rootfsPropagation).toBeUndefined();
    expect(spec({ opts: { mounts: [{ type: "bind", source: "/x", target: "/x", options: ["rshared"] }] } }).linux.rootfsPropagation).toBe("shared");
  });
});

describe("buildSpec: linux", () => {
  test("root: namespaces with cgroup, Docker's device cgroup, masked and read-only paths, sysctls", () => {
    const { linux } = spec();
    expect(linux.namespaces.map((n) => n.type)).toEqual(["mount", "network", "uts", "pid", "ipc", "cgroup"]);
    expect(linux.resources?.devices?.[0]).toEqual({ allow: false, access: "rwm" });
    expect(linux.maskedPaths).toContain("/proc/kcore");
    expect(linux.maskedPaths).toContain("/sys/firmware");
    expect(linux.readonlyPaths).toEqual(["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]);
    expect(linux.sysctl).toEqual({ "net.ipv4.ping_group_range": "0 2147483647", "net.ipv4.ip_unprivileged_port_start": "0" });
  });

  test("rootless: no cgroup namespace, no user namespace, no device cgroup, no ping range", () => {
    const s = spec({ rootless: true });
    expect(s.linux.namespaces.map((n) => n.type)).toEqual(["mount", "network", "uts", "pid", "ipc"]);
    expect(s.linux.resources).toBeUndefined();
    expect(s.linux.sysctl).toEqual({ "net.ipv4.ip_unprivileged_port_start": "0" });
    expect(s.linux.maskedPaths).toEqual(spec().linux.maskedPaths);
    // sysfs in the container's own network namespace works rootless.
    expect(s.mounts.find((m) => m.destination === "/sys")?.type).toBe("sysfs");
  });

  test("rootless with the host's network: /sys is a read-only recursive bind; no network namespace", () => {
    const s = spec({ rootless: true, network: "host" });
    expect(s.mounts.find((m) => m.destination === "/sys")).toEqual({ destination: "/sys", type: "bind", source: "/sys", options: ["rbind", "nosuid", "noexec", "nodev", "rro"] });
    expect(s.linux.namespaces.some((n) => n.type === "network")).toBe(false);
    expect(s.linux.sysctl).toBeUndefined();
  });

  test("joined network namespace keeps sysfs and gets no default sysctls", () => {
    const s = spec({ rootless: true, network: { path: "/proc/77/ns/net" } });
    expect(s.linux.namespaces).toContainEqual({ type: "network", path: "/proc/77/ns/net" });
    expect(s.mounts.find((m) => m.destination === "/sys")?.type).toBe("sysfs");
    expect(s.linux.sysctl).toBeUndefined();
  });

  test("privileged: all capabilities, no masks, writable /sys, open device cgroup", () => {
    const s = spec({ opts: { privileged: true } });
    expect(s.process.capabilities.bounding).toEqual([...ALL_CAPABILITIES]);
    expect(s.linux.maskedPaths).toBeUndefined();
    expect(s.linux.readonlyPaths).toBeUndefined();
    expect(s.mounts.find((m) => m.destination === "/sys")?.options).not.toContain("ro");
    expect(s.linux.resources?.devices).toEqual([{ allow: true, access: "rwm" }]);
    const rl = spec({ rootless: true, opts: { privileged: true } });
    expect(rl.linux.resources).toBeUndefined();
  });

  test("availableCapabilities bounds privileged and ALL, and refuses adds outside it", () => {
    const available = ALL_CAPABILITIES.filter((c) => c !== "CAP_SYS_RESOURCE");
    expect(spec({ availableCapabilities: available, opts: { privileged: true } }).process.capabilities.bounding).toEqual(available);
    expect(spec({ availableCapabilities: available, opts: { capAdd: ["ALL"] } }).process.capabilities.bounding).toEqual(available);
    expectError(() => spec({ availableCapabilities: available, opts: { capAdd: ["SYS_RESOURCE"] } }), "capability not available in the current environment");
  });

  test("systempaths=unconfined drops masked and read-only paths only", () => {
    const s = spec({ opts: { securityOpt: ["systempaths=unconfined"] } });
    expect(s.linux.maskedPaths).toBeUndefined();
    expect(s.process.capabilities.bounding).toEqual([...DOCKER_DEFAULT_CAPABILITIES]);
  });

  test("user sysctls and annotations", () => {
    const s = spec({ opts: { sysctls: { "net.core.somaxconn": "512" } }, annotations: { a: "b" } });
    expect(s.linux.sysctl?.["net.core.somaxconn"]).toBe("512");
    expect(s.annotations).toEqual({ a: "b" });
    expect(spec().annotations).toBeUndefined();
    expectError(() => spec({ network: "host", opts: { sysctls: { "net.core.somaxconn": "1" } } }), "not allowed with the host's network namespace");
  });

  test("pure: the same input gives the same spec, and the input is not changed", () => {
    const i = input({ opts: { env: ["A=1"], mounts: [{ type: "tmpfs", target: "/t" }] } });
    const before = JSON.stringify(i);
    expect(buildSpec(i)).toEqual(buildSpec(i));
    expect(JSON.stringify(i)).toBe(before);
  });
});

describe("serializeSpec", () => {
  test("JSON with exact 64-bit integers for unlimited rlimits", () => {
    const s = spec({ opts: { ulimits: [{ name: "memlock", soft: -1, hard: -1 }] } });
    const text = serializeSpec(s);
    expect(text).toContain('"soft": 18446744073709551615');
    expect(text.endsWith("}\n")).toBe(true);
    expect(() => JSON.stringify(s)).toThrow();
    const parsed = JSON.parse(text) as OciSpec;
    expect(parsed.ociVersion).toBe("1.0.2-dev");
    expect(parsed.process.args).toEqual(["sh"]);
  });
});
