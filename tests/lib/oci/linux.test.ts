import { describe, expect, test } from "bun:test";
import { DEFAULT_DEVICE_RULES, namespaces, securityOptions, sysctls } from "../../../lib/oci/linux.ts";
import { expectError } from "./helpers.ts";

describe("namespaces", () => {
  test("root: mount, network, uts, pid, ipc, cgroup; never a user namespace", () => {
    expect(namespaces({ network: "private", rootless: false })).toEqual([
      { type: "mount" },
      { type: "network" },
      { type: "uts" },
      { type: "pid" },
      { type: "ipc" },
      { type: "cgroup" },
    ]);
  });

  test("rootless: no cgroup namespace and no user namespace (skiff is already inside one)", () => {
    const ns = namespaces({ network: "private", rootless: true });
    expect(ns.map((n) => n.type)).toEqual(["mount", "network", "uts", "pid", "ipc"]);
  });

  test("network: none is a new namespace, host shares, a path joins", () => {
    expect(namespaces({ network: "none", rootless: true })).toEqual(namespaces({ network: "private", rootless: true }));
    expect(namespaces({ network: "host", rootless: true }).map((n) => n.type)).toEqual(["mount", "uts", "pid", "ipc"]);
    expect(namespaces({ network: { path: "/proc/42/ns/net" }, rootless: true })[1]).toEqual({ type: "network", path: "/proc/42/ns/net" });
    expectError(() => namespaces({ network: { path: "ns/net" }, rootless: true }), 'network namespace path "ns/net" is not absolute');
  });

  test("joining another container's IPC, UTS and PID namespaces", () => {
    const ns = namespaces({ network: "private", rootless: false, join: { ipc: "/proc/7/ns/ipc", uts: "/proc/7/ns/uts", pid: "/proc/7/ns/pid" } });
    expect(ns).toEqual([
      { type: "mount" },
      { type: "network" },
      { type: "uts", path: "/proc/7/ns/uts" },
      { type: "pid", path: "/proc/7/ns/pid" },
      { type: "ipc", path: "/proc/7/ns/ipc" },
      { type: "cgroup" },
    ]);
    expectError(() => namespaces({ network: "private", rootless: false, join: { pid: "7" } }), 'pid namespace path "7" is not absolute');
  });
});

describe("sysctls", () => {
  test("Docker's defaults for a network namespace of the container's own", () => {
    expect(sysctls({}, { network: "private", rootless: false })).toEqual({
      "net.ipv4.ping_group_range": "0 2147483647",
      "net.ipv4.ip_unprivileged_port_start": "0",
    });
    // Rootless: groups beyond the mapping cannot be named, so no ping range.
    expect(sysctls({}, { network: "none", rootless: true })).toEqual({ "net.ipv4.ip_unprivileged_port_start": "0" });
    expect(sysctls({}, { network: "host", rootless: false })).toEqual({});
    expect(sysctls({}, { network: { path: "/proc/1/ns/net" }, rootless: false })).toEqual({});
  });

  test("namespaced sysctls are accepted and override the defaults", () => {
    const user = {
      "net.ipv4.ip_unprivileged_port_start": "80",
      "net.core.somaxconn": "1024",
      "kernel.shmmax": "1",
      "kernel.shm_rmid_forced": "1",
      "kernel.msgmax": "2",
      "kernel.sem": "250 32000 100 128",
      "fs.mqueue.msg_max": "20",
    };
    expect(sysctls(user, { network: "private", rootless: true })).toEqual(user);
    expect(sysctls({ "net.core.somaxconn": "1" }, { network: { path: "/proc/1/ns/net" }, rootless: true })).toEqual({ "net.core.somaxconn": "1" });
  });

  test("others are InvalidArgument, and net.* with the host's network", () => {
    expectError(() => sysctls({ "kernel.pid_max": "1" }, { network: "private", rootless: false }), "sysctl kernel.pid_max is not allowed: it is not in a separate kernel namespace");
    expectError(() => sysctls({ "vm.swappiness": "1" }, { network: "private", rootless: false }), "sysctl vm.swappiness is not allowed");
    expectError(() => sysctls({ "fs.file-max": "1" }, { network: "private", rootless: false }), "not in a separate kernel namespace");
    expectError(() => sysctls({ "net.ipv4.ip_forward": "1" }, { network: "host", rootless: false }), "sysctl net.ipv4.ip_forward is not allowed with the host's network namespace");
  });
});

describe("securityOptions", () => {
  test("no-new-privileges in its spellings", () => {
    expect(securityOptions([])).toEqual({ noNewPrivileges: false, unconfinedPaths: false, seccomp: "default" });
    expect(securityOptions(["no-new-privileges"]).noNewPrivileges).toBe(true);
    expect(securityOptions(["no-new-privileges:true"]).noNewPrivileges).toBe(true);
    expect(securityOptions(["no-new-privileges=true"]).noNewPrivileges).toBe(true);
    expect(securityOptions(["no-new-privileges", "no-new-privileges:false"]).noNewPrivileges).toBe(false);
    expectError(() => securityOptions(["no-new-privileges:maybe"]), "expected true or false");
  });

  test("seccomp: unconfined, or a profile's JSON text (multi-line too); a path left unread is refused", () => {
    expect(securityOptions(["seccomp=unconfined"]).seccomp).toBe("unconfined");
    expect(securityOptions(["seccomp:unconfined"]).seccomp).toBe("unconfined");
    const text = '{\n  "defaultAction": "SCMP_ACT_ALLOW"\n}';
    expect(securityOptions([`seccomp=${text}`]).seccomp).toEqual({ profile: text });
    expectError(() => securityOptions(["seccomp=/etc/profile.json"]), "neither");
  });

  test("what skiff already does is accepted; profiles it cannot apply are refused", () => {
    expect(securityOptions(["apparmor=unconfined", "label=disable"])).toEqual({
      noNewPrivileges: false,
      unconfinedPaths: false,
      seccomp: "default",
    });
    expect(securityOptions(["systempaths=unconfined"]).unconfinedPaths).toBe(true);
    expectError(() => securityOptions(["apparmor=docker-default"]), "unsupported --security-opt");
    expectError(() => securityOptions(["label=type:svirt_t"]), "unsupported --security-opt");
  });
});

describe("device rules", () => {
  test("deny all first, then Docker's devices and runc's defaults", () => {
    expect(DEFAULT_DEVICE_RULES[0]).toEqual({ allow: false, access: "rwm" });
    const allowed = DEFAULT_DEVICE_RULES.filter((r) => r.allow && r.major !== undefined).map((r) => `${r.major}:${r.minor ?? "*"}`);
    expect(allowed).toEqual(["1:3", "1:5", "1:7", "1:8", "1:9", "5:0", "5:1", "5:2", "136:*"]);
  });
});
