import { describe, expect, test } from "bun:test";
import { ALL_CAPABILITIES, capabilities, capabilitiesFromMask, capabilityMask, DOCKER_DEFAULT_CAPABILITIES, normalizeCapability } from "../../../lib/oci/caps.ts";
import { expectError } from "./helpers.ts";

const none = { capAdd: [], capDrop: [], privileged: false };

describe("capabilities", () => {
  test("Docker's default set, in Docker's order, and its CapEff mask", () => {
    expect(capabilities(none)).toEqual([...DOCKER_DEFAULT_CAPABILITIES]);
    expect(DOCKER_DEFAULT_CAPABILITIES).toHaveLength(14);
    // What `grep CapEff /proc/self/status` prints in a default Docker container.
    expect(capabilityMask(DOCKER_DEFAULT_CAPABILITIES)).toBe("00000000a80425fb");
  });

  test("add and drop, names with or without CAP_, any case", () => {
    const caps = capabilities({ capAdd: ["net_admin", "CAP_SYS_PTRACE", "Sys_Time"], capDrop: ["mknod", "cap_net_raw"], privileged: false });
    expect(caps).toContain("CAP_NET_ADMIN");
    expect(caps).toContain("CAP_SYS_PTRACE");
    expect(caps).toContain("CAP_SYS_TIME");
    expect(caps).not.toContain("CAP_MKNOD");
    expect(caps).not.toContain("CAP_NET_RAW");
    expect(caps).toHaveLength(14 - 2 + 3);
    // Adds come after the remaining defaults.
    expect(caps.slice(-3)).toEqual(["CAP_NET_ADMIN", "CAP_SYS_PTRACE", "CAP_SYS_TIME"]);
  });

  test("adding a default again or dropping and adding the same name keeps one copy", () => {
    expect(capabilities({ capAdd: ["CHOWN"], capDrop: [], privileged: false })).toEqual([...DOCKER_DEFAULT_CAPABILITIES]);
    const caps = capabilities({ capAdd: ["chown"], capDrop: ["chown"], privileged: false });
    expect(caps.filter((c) => c === "CAP_CHOWN")).toHaveLength(1);
  });

  test("ALL: --cap-drop ALL keeps only the adds; --cap-add ALL gives all but the drops", () => {
    expect(capabilities({ capAdd: [], capDrop: ["ALL"], privileged: false })).toEqual([]);
    expect(capabilities({ capAdd: ["SYS_TIME"], capDrop: ["all"], privileged: false })).toEqual(["CAP_SYS_TIME"]);
    // moby's integration test: --cap-drop=ALL --cap-add=SYS_TIME shows CapEff 0000000002000000.
    expect(capabilityMask(["CAP_SYS_TIME"])).toBe("0000000002000000");
    const all = capabilities({ capAdd: ["ALL"], capDrop: ["SYS_ADMIN"], privileged: false });
    expect(all).toHaveLength(ALL_CAPABILITIES.length - 1);
    expect(all).not.toContain("CAP_SYS_ADMIN");
    // add ALL wins over drop ALL, as moby's TweakCapabilities checks it first.
    expect(capabilities({ capAdd: ["ALL"], capDrop: ["ALL"], privileged: false })).toEqual(
      [...ALL_CAPABILITIES],
    );
  });

  test("privileged: every capability whatever else is asked", () => {
    expect(capabilities({ capAdd: [], capDrop: ["ALL"], privileged: true })).toEqual([...ALL_CAPABILITIES]);
    expect(ALL_CAPABILITIES).toHaveLength(41);
    expect(capabilityMask(ALL_CAPABILITIES)).toBe("000001ffffffffff");
  });

  test("unknown names are InvalidArgument, even when privileged", () => {
    expectError(() => capabilities({ capAdd: ["CAP_FLY"], capDrop: [], privileged: false }), 'unknown capability: "CAP_FLY"');
    expectError(() => capabilities({ capAdd: [], capDrop: ["nope"], privileged: true }), "unknown capability");
    expect(normalizeCapability(" cap_bpf ")).toBe("CAP_BPF");
    expect(normalizeCapability("All")).toBe("ALL");
  });

  test("available: what ALL and privileged mean, and what may be added", () => {
    const available = ALL_CAPABILITIES.filter((c) => c !== "CAP_SYS_RESOURCE" && c !== "CAP_BPF");
    expect(capabilities({ capAdd: [], capDrop: [], privileged: true }, { available })).toEqual(available);
    expect(capabilities({ capAdd: ["ALL"], capDrop: ["KILL"], privileged: false }, { available })).toHaveLength(available.length - 1);
    expect(capabilities({ capAdd: ["NET_ADMIN"], capDrop: [], privileged: false }, { available })).toContain("CAP_NET_ADMIN");
    expectError(() => capabilities({ capAdd: ["bpf"], capDrop: [], privileged: false }, { available }), 'capability not available in the current environment: "CAP_BPF"');
    // Order does not matter in `available`; the result keeps bit order.
    expect(capabilities({ capAdd: [], capDrop: [], privileged: true }, { available: ["CAP_KILL", "CAP_CHOWN"] })).toEqual(["CAP_CHOWN", "CAP_KILL"]);
  });
});

describe("capabilitiesFromMask", () => {
  test("a /proc/PID/status mask back to names, in bit order", () => {
    expect(capabilitiesFromMask("00000000a80425fb")).toEqual([...DOCKER_DEFAULT_CAPABILITIES].sort((a, b) => ALL_CAPABILITIES.indexOf(a) - ALL_CAPABILITIES.indexOf(b)));
    expect(capabilitiesFromMask("000001fffeffffff")).toEqual(ALL_CAPABILITIES.filter((c) => c !== "CAP_SYS_RESOURCE"));
    expect(capabilitiesFromMask("0")).toEqual([]);
    // Bits past the table (a newer kernel) are ignored.
    expect(capabilitiesFromMask("ffffffffffffffff")).toEqual([...ALL_CAPABILITIES]);
    expectError(() => capabilitiesFromMask("xyz"), "invalid capability mask");
  });
});
