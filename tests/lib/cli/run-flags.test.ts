/** run/create flag parsing that needs no container: bind sources as Docker treats them. */
import { describe, expect, test } from "bun:test";
import { createOptionsFromFlags, inlineSeccompProfile, prepareBindSources } from "../../../lib/cli/run-flags.ts";
import { SkiffError } from "../../../lib/errors.ts";

function fakeFs(existing: string[]): { made: string[]; io: { exists: (p: string) => boolean; mkdirp: (p: string) => void } } {
  const made: string[] = [];
  return { made, io: { exists: (p) => existing.includes(p) || made.includes(p), mkdirp: (p) => void made.push(p) } };
}

describe("prepareBindSources", () => {
  test("--mount type=bind with a missing source is refused, naming it", () => {
    const { made, io } = fakeFs([]);
    let err: unknown;
    try {
      prepareBindSources({ mount: ["type=bind,source=/no/such,target=/data"] }, io);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SkiffError);
    expect((err as SkiffError).kind).toBe("InvalidArgument");
    expect((err as SkiffError).message).toBe('invalid mount config for type "bind": bind source path does not exist: /no/such');
    expect(made).toEqual([]);
  });

  test("-v with a missing host path creates it; existing ones are left alone", () => {
    const { made, io } = fakeFs(["/there"]);
    prepareBindSources({ volume: ["/there:/a", "/made/here:/b:ro", "named:/c", "/anon"] }, io);
    expect(made).toEqual(["/made/here"]);
  });

  test("an existing --mount source, tmpfs and volume mounts pass", () => {
    const { made, io } = fakeFs(["/src"]);
    prepareBindSources({ mount: ["type=bind,src=/src,dst=/d,readonly", "type=tmpfs,target=/t", "type=volume,source=v,target=/v"] }, io);
    expect(made).toEqual([]);
  });

  test("a --mount refusal comes before any -v directory is made", () => {
    const { made, io } = fakeFs([]);
    expect(() => prepareBindSources({ volume: ["/new:/a"], mount: ["type=bind,source=/gone,target=/b"] }, io)).toThrow("bind source path does not exist");
    expect(made).toEqual([]);
  });
});

describe("inlineSeccompProfile", () => {
  const files: Record<string, string> = { "/p.json": '{\n  "defaultAction": "SCMP_ACT_ALLOW"\n}\n', "/bad.json": "{nope" };
  const read = (p: string): string => {
    const t = files[p];
    if (t === undefined) throw Object.assign(new Error("ENOENT"), { code: "ENOENT" });
    return t;
  };

  test("a file becomes its compact JSON; unconfined, inline JSON and other options pass as they are", () => {
    expect(inlineSeccompProfile("seccomp=/p.json", read)).toBe('seccomp={"defaultAction":"SCMP_ACT_ALLOW"}');
    expect(inlineSeccompProfile("seccomp:/p.json", read)).toBe('seccomp={"defaultAction":"SCMP_ACT_ALLOW"}');
    expect(inlineSeccompProfile("seccomp=unconfined", read)).toBe("seccomp=unconfined");
    expect(inlineSeccompProfile('seccomp={"defaultAction":"SCMP_ACT_LOG"}', read)).toBe('seccomp={"defaultAction":"SCMP_ACT_LOG"}');
    expect(inlineSeccompProfile("no-new-privileges", read)).toBe("no-new-privileges");
  });

  test("a missing or broken file is one clear error", () => {
    expect(() => inlineSeccompProfile("seccomp=/none.json", read)).toThrow("--security-opt seccomp: open /none.json: no such file or directory");
    expect(() => inlineSeccompProfile("seccomp=/bad.json", read)).toThrow("--security-opt seccomp: /bad.json is not JSON");
  });
});

describe("createOptionsFromFlags: sizes as Docker reads them", () => {
  const io = { hostEnv: {}, readFile: (): string => "" };
  const refusal = (f: () => unknown): string => {
    try {
      f();
    } catch (e) {
      return e instanceof SkiffError ? e.message : `not a SkiffError: ${String(e)}`;
    }
    return "accepted";
  };

  test("--shm-size 0 leaves the default; a size is kept", () => {
    expect(createOptionsFromFlags({ shmSize: "0" }, [], io).shmSize).toBeUndefined();
    expect(createOptionsFromFlags({ shmSize: "128m" }, [], io).shmSize).toBe(128 << 20);
  });

  test("--log-opt max-size: -1 is no limit, 0 is refused in one line, a size is kept", () => {
    expect(createOptionsFromFlags({ logOpt: ["max-size=-1"] }, [], io).logMaxSize).toBeUndefined();
    expect(refusal(() => createOptionsFromFlags({ logOpt: ["max-size=0"] }, [], io))).toBe("max-size must be a positive number");
    expect(createOptionsFromFlags({ logOpt: ["max-size=10k", "max-file=3"] }, [], io)).toMatchObject({ logMaxSize: 10240, logMaxFiles: 3 });
  });
});
