import { describe, expect, test } from "bun:test";
import { createOptions } from "../../../lib/containers/options.ts";
import { DOCKER_DEFAULT_CAPABILITIES } from "../../../lib/oci/caps.ts";
import { defaultSeccomp, kernelAtLeast, seccompArchitectures, seccompFromProfile, type OciSeccomp } from "../../../lib/oci/seccomp.ts";
import { buildSpec } from "../../../lib/oci/spec.ts";
import { expectError } from "./helpers.ts";

function denied(s: OciSeccomp, name: string): boolean {
  return (s.syscalls ?? []).some((r) => r.names.includes(name) && r.action === "SCMP_ACT_ERRNO" && r.args === undefined);
}

function cloneRules(s: OciSeccomp): number[] {
  return (s.syscalls ?? []).filter((r) => r.names.includes("clone")).map((r) => r.args?.[0]?.value ?? -1);
}

describe("defaultSeccomp", () => {
  test("allows by default and denies host-wide calls with EPERM", () => {
    const s = defaultSeccomp(DOCKER_DEFAULT_CAPABILITIES, "x64");
    expect(s.defaultAction).toBe("SCMP_ACT_ALLOW");
    expect(s.architectures).toEqual(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]);
    for (const name of ["keyctl", "add_key", "mount", "unshare", "setns", "reboot", "init_module", "open_by_handle_at", "bpf", "userfaultfd", "io_uring_setup"]) {
      expect(denied(s, name)).toBe(true);
    }
    for (const name of ["read", "clone", "ptrace", "sethostname", "chroot", "adjtimex"]) expect(denied(s, name)).toBe(false);
    for (const r of s.syscalls ?? []) expect(r.errnoRet).toBe(r.names.includes("clone3") ? 38 : 1);
  });

  test("clone with a namespace flag is denied, one rule per flag; clone3 answers ENOSYS", () => {
    const s = defaultSeccomp(DOCKER_DEFAULT_CAPABILITIES, "x64");
    const flags = cloneRules(s);
    expect(flags).toContain(0x10000000); // CLONE_NEWUSER
    expect(flags).toContain(0x00020000); // CLONE_NEWNS
    expect(flags).not.toContain(0x80); // part of clone's exit signal, not CLONE_NEWTIME there
    for (const r of (s.syscalls ?? []).filter((x) => x.names.includes("clone"))) {
      expect(r.args).toEqual([{ index: 0, value: r.args?.[0]?.value ?? 0, valueTwo: r.args?.[0]?.value ?? 0, op: "SCMP_CMP_MASKED_EQ" }]);
    }
    expect((s.syscalls ?? []).find((r) => r.names.includes("clone3"))?.errnoRet).toBe(38);
  });

  test("a capability allows its calls again", () => {
    const admin = defaultSeccomp([...DOCKER_DEFAULT_CAPABILITIES, "CAP_SYS_ADMIN"], "x64");
    expect(denied(admin, "mount")).toBe(false);
    expect(denied(admin, "unshare")).toBe(false);
    expect(cloneRules(admin)).toEqual([]);
    expect((admin.syscalls ?? []).some((r) => r.names.includes("clone3"))).toBe(false);
    expect(denied(admin, "keyctl")).toBe(true);
    const boot = defaultSeccomp([...DOCKER_DEFAULT_CAPABILITIES, "CAP_SYS_BOOT"], "x64");
    expect(denied(boot, "reboot")).toBe(false);
    expect(denied(boot, "mount")).toBe(true);
  });

  test("architectures follow the host; unknown hosts filter their native one only", () => {
    expect(seccompArchitectures("arm64")).toEqual(["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]);
    expect(defaultSeccomp([], "mips").architectures).toBeUndefined();
  });
});

describe("seccompFromProfile", () => {
  const profile = {
    defaultAction: "SCMP_ACT_ERRNO",
    defaultErrnoRet: 1,
    archMap: [
      { architecture: "SCMP_ARCH_X86_64", subArchitectures: ["SCMP_ARCH_X86", "SCMP_ARCH_X32"] },
      { architecture: "SCMP_ARCH_AARCH64", subArchitectures: ["SCMP_ARCH_ARM"] },
    ],
    syscalls: [
      { names: ["read", "write"], action: "SCMP_ACT_ALLOW" },
      { name: "old_style", action: "SCMP_ACT_ALLOW" },
      { names: ["mount"], action: "SCMP_ACT_ALLOW", includes: { caps: ["CAP_SYS_ADMIN"] } },
      { names: ["ptrace"], action: "SCMP_ACT_ALLOW", excludes: { caps: ["SYS_PTRACE"] } },
      { names: ["arch_prctl"], action: "SCMP_ACT_ALLOW", includes: { arches: ["amd64"] } },
      { names: ["personality"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, value: 8, valueTwo: 0, op: "SCMP_CMP_EQ" }] },
    ],
  };

  test("Docker's format: archMap picks the host's, includes/excludes by caps and arches", () => {
    const s = seccompFromProfile(JSON.stringify(profile), { caps: DOCKER_DEFAULT_CAPABILITIES, arch: "x64" });
    expect(s.defaultAction).toBe("SCMP_ACT_ERRNO");
    expect(s.defaultErrnoRet).toBe(1);
    expect(s.architectures).toEqual(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]);
    const names = (s.syscalls ?? []).flatMap((r) => r.names);
    expect(names).toEqual(["read", "write", "old_style", "ptrace", "arch_prctl", "personality"]);
    expect(s.syscalls?.[4]?.args).toEqual([{ index: 0, value: 8, valueTwo: 0, op: "SCMP_CMP_EQ" }]);

    const arm = seccompFromProfile(JSON.stringify(profile), { caps: ["CAP_SYS_ADMIN", "CAP_SYS_PTRACE"], arch: "arm64" });
    expect(arm.architectures).toEqual(["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]);
    expect((arm.syscalls ?? []).flatMap((r) => r.names)).toEqual(["read", "write", "old_style", "mount", "personality"]);
  });

  test("minKernel, as Docker: an include needs at least that kernel, an exclude drops the rule from that kernel on", () => {
    const p = JSON.stringify({
      defaultAction: "SCMP_ACT_ALLOW",
      syscalls: [
        { names: ["new_call"], action: "SCMP_ACT_ERRNO", includes: { minKernel: "5.10" } },
        { names: ["old_fallback"], action: "SCMP_ACT_ERRNO", excludes: { minKernel: "5.10" } },
        { names: ["always"], action: "SCMP_ACT_ERRNO" },
      ],
    });
    const names = (kernel?: string): string[] => (seccompFromProfile(p, { caps: [], arch: "x64", kernel }).syscalls ?? []).flatMap((r) => r.names);
    expect(names("6.1.0-18-amd64")).toEqual(["new_call", "always"]);
    expect(names("5.10.0")).toEqual(["new_call", "always"]);
    expect(names("5.4.0-42-generic")).toEqual(["old_fallback", "always"]);
    expect(names("4.19.0")).toEqual(["old_fallback", "always"]);
    // Not told the kernel (validation only): every rule stays.
    expect(names()).toEqual(["new_call", "old_fallback", "always"]);
    expectError(() => seccompFromProfile('{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["x"],"action":"SCMP_ACT_ERRNO","includes":{"minKernel":"five"}}]}', { caps: [], arch: "x64" }), "minKernel");
  });

  test("kernelAtLeast compares major, then minor", () => {
    expect(kernelAtLeast("6.1.0-18-amd64", "4.8")).toBe(true);
    expect(kernelAtLeast("4.8.0", "4.8")).toBe(true);
    expect(kernelAtLeast("4.7.10", "4.8")).toBe(false);
    expect(kernelAtLeast("3.99", "4.0")).toBe(false);
    expect(kernelAtLeast("10.0", "9.99")).toBe(true);
  });

  test("bad profiles are InvalidArgument with the field named", () => {
    expectError(() => seccompFromProfile("{nope", { caps: [], arch: "x64" }), "seccomp profile: not JSON");
    expectError(() => seccompFromProfile('{"defaultAction":"ALLOW"}', { caps: [], arch: "x64" }), "defaultAction");
    expectError(() => seccompFromProfile('{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"action":"SCMP_ACT_ERRNO"}]}', { caps: [], arch: "x64" }), "names no system call");
    expectError(() => seccompFromProfile('{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["x"],"action":"SCMP_ACT_ERRNO","args":[{"index":9,"value":1,"op":"SCMP_CMP_EQ"}]}]}', { caps: [], arch: "x64" }), "syscalls.0.args.0.index");
  });
});

describe("buildSpec: seccomp", () => {
  const base = { id: "c".repeat(64), image: { Cmd: ["sh"] }, rootfs: "/r", rootless: true, arch: "x64" };

  test("the default filter, none when privileged or unconfined, a profile when given", () => {
    expect(buildSpec({ ...base, options: createOptions({}) }).linux.seccomp?.defaultAction).toBe("SCMP_ACT_ALLOW");
    expect(buildSpec({ ...base, options: createOptions({ privileged: true }) }).linux.seccomp).toBeUndefined();
    expect(buildSpec({ ...base, options: createOptions({ securityOpt: ["seccomp=unconfined"] }) }).linux.seccomp).toBeUndefined();
    const custom = buildSpec({ ...base, options: createOptions({ securityOpt: ['seccomp={"defaultAction":"SCMP_ACT_LOG"}'] }) }).linux.seccomp;
    expect(custom).toEqual({ defaultAction: "SCMP_ACT_LOG", syscalls: [] });
  });

  test("a profile's minKernel is checked against the kernel the spec is built for", () => {
    const profile = '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["new_call"],"action":"SCMP_ACT_ERRNO","includes":{"minKernel":"5.10"}}]}';
    const rules = (kernel: string) => buildSpec({ ...base, kernel, options: createOptions({ securityOpt: [`seccomp=${profile}`] }) }).linux.seccomp?.syscalls;
    expect(rules("6.1.0")?.length).toBe(1);
    expect(rules("5.4.0")).toEqual([]);
  });

  test("--cap-add SYS_ADMIN lifts the mount and namespace rules", () => {
    const s = buildSpec({ ...base, options: createOptions({ capAdd: ["SYS_ADMIN"] }) }).linux.seccomp as OciSeccomp;
    expect(denied(s, "mount")).toBe(false);
    expect(cloneRules(s)).toEqual([]);
  });
});
