import { describe, expect, test } from "bun:test";
import { DEFAULT_PATH, mergeEnv, processArgs, rlimits, workingDir } from "../../../lib/oci/process.ts";
import { RLIM_INFINITY } from "../../../lib/oci/types.ts";
import { expectError } from "./helpers.ts";

const image = { Entrypoint: ["/docker-entrypoint.sh"], Cmd: ["nginx", "-g", "daemon off;"] };

describe("processArgs (Docker's ENTRYPOINT/CMD rules)", () => {
  test("nothing given: image Entrypoint + Cmd", () => {
    expect(processArgs(image, { cmd: null, entrypoint: null })).toEqual(["/docker-entrypoint.sh", "nginx", "-g", "daemon off;"]);
    expect(processArgs({ Cmd: ["sh"] }, { cmd: null, entrypoint: null })).toEqual(["sh"]);
    expect(processArgs({ Entrypoint: ["/bin/app"] }, { cmd: null, entrypoint: null })).toEqual(["/bin/app"]);
  });

  test("a cmd replaces the image's Cmd and keeps its Entrypoint", () => {
    expect(processArgs(image, { cmd: ["bash"], entrypoint: null })).toEqual(["/docker-entrypoint.sh", "bash"]);
    // An empty cmd is no cmd: the image's Cmd stays.
    expect(processArgs(image, { cmd: [], entrypoint: null })).toEqual(["/docker-entrypoint.sh", "nginx", "-g", "daemon off;"]);
  });

  test("--entrypoint replaces the image's Entrypoint and drops its Cmd", () => {
    expect(processArgs(image, { cmd: null, entrypoint: ["/bin/sh"] })).toEqual(["/bin/sh"]);
    expect(processArgs(image, { cmd: ["-c", "echo hi"], entrypoint: ["/bin/sh"] })).toEqual(["/bin/sh", "-c", "echo hi"]);
  });

  test('--entrypoint "" clears the Entrypoint; the image Cmd stays unless a cmd is given', () => {
    expect(processArgs(image, { cmd: null, entrypoint: [] })).toEqual(["nginx", "-g", "daemon off;"]);
    expect(processArgs(image, { cmd: ["ls", "/"], entrypoint: [] })).toEqual(["ls", "/"]);
  });

  test("no command at all is InvalidArgument", () => {
    expectError(() => processArgs(null, { cmd: null, entrypoint: null }), "no command specified");
    expectError(() => processArgs({ Entrypoint: ["/x"] }, { cmd: null, entrypoint: [] }), "no command specified");
    expectError(() => processArgs({ Cmd: null, Entrypoint: null }, { cmd: [], entrypoint: null }), "no command specified");
  });
});

describe("mergeEnv", () => {
  test("PATH default, HOSTNAME, TERM with a tty, then image and user values", () => {
    expect(mergeEnv(null, [], {})).toEqual([`PATH=${DEFAULT_PATH}`]);
    expect(mergeEnv(["A=1"], ["B=2"], { hostname: "c0ffee", tty: true })).toEqual([
      `PATH=${DEFAULT_PATH}`,
      "HOSTNAME=c0ffee",
      "TERM=xterm",
      "A=1",
      "B=2",
    ]);
    expect(mergeEnv([], [], { tty: false })).not.toContain("TERM=xterm");
  });

  test("later wins by key, in place", () => {
    expect(mergeEnv(["PATH=/bin", "A=1", "B=1"], ["B=2", "A=3", "C=x=y"])).toEqual(["PATH=/bin", "A=3", "B=2", "C=x=y"]);
    expect(mergeEnv(["TERM=vt100"], ["HOSTNAME=mine"], { hostname: "h", tty: true })).toEqual([
      `PATH=${DEFAULT_PATH}`,
      "HOSTNAME=mine",
      "TERM=vt100",
    ]);
    expect(mergeEnv(null, ["PATH=/opt"])).toEqual(["PATH=/opt"]);
    expect(mergeEnv(["EMPTY="], [])).toEqual([`PATH=${DEFAULT_PATH}`, "EMPTY="]);
  });

  test("a user entry without = unsets the key", () => {
    expect(mergeEnv(["A=1", "B=2"], ["A", "NOPE"])).toEqual([`PATH=${DEFAULT_PATH}`, "B=2"]);
  });

  test("HOME is added only when nothing set it", () => {
    expect(mergeEnv(null, [], { home: "/root" })).toEqual([`PATH=${DEFAULT_PATH}`, "HOME=/root"]);
    expect(mergeEnv(["HOME=/srv"], [], { home: "/root" })).toEqual([`PATH=${DEFAULT_PATH}`, "HOME=/srv"]);
    expect(mergeEnv(null, ["HOME=/u"], { home: "/root" })).toEqual([`PATH=${DEFAULT_PATH}`, "HOME=/u"]);
  });

  test("an empty name is InvalidArgument", () => {
    expectError(() => mergeEnv([], ["=x"]), 'invalid user environment variable "=x"');
    expectError(() => mergeEnv(["=y"], []), "invalid image environment variable");
  });
});

describe("workingDir", () => {
  test("user's, else image's, else /; normalised", () => {
    expect(workingDir(null, undefined)).toBe("/");
    expect(workingDir({ WorkingDir: "" }, undefined)).toBe("/");
    expect(workingDir({ WorkingDir: "/app" }, undefined)).toBe("/app");
    expect(workingDir({ WorkingDir: "/app" }, "/srv/")).toBe("/srv");
    expect(workingDir(null, "//")).toBe("/");
    expect(workingDir(null, "/a/./b/../c")).toBe("/a/c");
  });

  test("relative is InvalidArgument", () => {
    expectError(() => workingDir(null, "app"), 'working directory "app" is invalid: it must be an absolute path');
    expectError(() => workingDir({ WorkingDir: "rel" }, undefined), "must be an absolute path");
  });
});

describe("rlimits", () => {
  test("ulimits as RLIMIT_*, with the default nofile when none is asked", () => {
    expect(rlimits([], { soft: 1048576, hard: 1048576 })).toEqual([{ type: "RLIMIT_NOFILE", hard: 1048576, soft: 1048576 }]);
    expect(rlimits([])).toEqual([]);
    expect(rlimits([{ name: "nproc", soft: 10, hard: 20 }], { soft: 1024, hard: 4096 })).toEqual([
      { type: "RLIMIT_NPROC", hard: 20, soft: 10 },
      { type: "RLIMIT_NOFILE", hard: 4096, soft: 1024 },
    ]);
  });

  test("a user nofile replaces the default; later entries win", () => {
    expect(
      rlimits(
        [
          { name: "NOFILE", soft: 100, hard: 200 },
          { name: "core", soft: 0, hard: 0 },
          { name: "nofile", soft: 300, hard: 400 },
        ],
        { soft: 1, hard: 2 },
      ),
    ).toEqual([
      { type: "RLIMIT_NOFILE", hard: 400, soft: 300 },
      { type: "RLIMIT_CORE", hard: 0, soft: 0 },
    ]);
  });

  test("-1 is unlimited (RLIM_INFINITY)", () => {
    expect(rlimits([{ name: "memlock", soft: -1, hard: -1 }])).toEqual([{ type: "RLIMIT_MEMLOCK", hard: RLIM_INFINITY, soft: RLIM_INFINITY }]);
    expect(rlimits([{ name: "core", soft: 5, hard: -1 }])).toEqual([{ type: "RLIMIT_CORE", hard: RLIM_INFINITY, soft: 5 }]);
  });

  test("unknown names, soft above hard, other negatives are InvalidArgument", () => {
    expectError(() => rlimits([{ name: "files", soft: 1, hard: 1 }]), 'invalid ulimit "files": unknown resource');
    expectError(() => rlimits([{ name: "nofile", soft: 10, hard: 5 }]), "soft limit 10 is above hard limit 5");
    expectError(() => rlimits([{ name: "nofile", soft: -1, hard: 5 }]), "above hard limit");
    expectError(() => rlimits([{ name: "nofile", soft: -2, hard: -2 }]), "is negative");
  });
});
