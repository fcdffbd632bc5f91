import { describe, expect, test } from "bun:test";
import { parsePsOutput, psArgv, validatePsArgs } from "../../../lib/containers/top.ts";

const PS_EF = [
  "UID          PID    PPID  C STIME TTY          TIME CMD",
  "root           1       0  0 10:00 ?        00:00:01 /sbin/init",
  "skiff-ci     200     150  0 10:01 ?        00:00:00 sh -c sleep 1000 &  sleep 1000",
  "skiff-ci     210     200  0 10:01 ?        00:00:00 sleep 1000",
  "100999       220     150  0 10:02 ?        00:00:00 sleep 999",
  "",
].join("\n");

describe("psArgv", () => {
  test("default -ef, restricted to the container's pids with -q", () => {
    expect(psArgv([], [200, 210])).toEqual(["ps", "-ef", "-q", "200,210"]);
    expect(psArgv(["aux"], [7])).toEqual(["ps", "aux", "-q", "7"]);
  });

  test("unrestricted when -q cannot be used", () => {
    expect(psArgv(["-ef", "--forest"], [1], { restrict: false })).toEqual(["ps", "-ef", "--forest"]);
  });
});

describe("parsePsOutput", () => {
  test("keeps the container's processes with ps's header", () => {
    const r = parsePsOutput(PS_EF, [200, 210, 220]);
    expect(r.titles).toEqual(["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]);
    expect(r.processes.map((p) => p[1])).toEqual(["200", "210", "220"]);
  });

  test("the command keeps its spaces", () => {
    const r = parsePsOutput(PS_EF, [200]);
    expect(r.processes[0]).toEqual(["skiff-ci", "200", "150", "0", "10:01", "?", "00:00:00", "sh -c sleep 1000 &  sleep 1000"]);
  });

  test("thread lines follow their process", () => {
    const out = ["  PID   LWP CMD", "  200     - sh", "    -   200 -", "    -   201 -", "  300     - other", "    -   300 -", ""].join("\n");
    expect(parsePsOutput(out, [200]).processes).toEqual([["200", "-", "sh"], ["-", "200", "-"], ["-", "201", "-"]]);
  });

  test("no PID column is an error", () => {
    expect(() => parsePsOutput("USER COMMAND\nroot init\n", [1])).toThrow("couldn't find PID field in ps output");
  });
});

describe("validatePsArgs", () => {
  test("refuses renaming another column to PID, as Docker", () => {
    expect(() => validatePsArgs(["-o", "user=PID"])).toThrow('specifying "user=PID" is not allowed');
    expect(() => validatePsArgs(["-o", "pid=PID"])).not.toThrow();
    expect(() => validatePsArgs(["aux"])).not.toThrow();
  });
});
