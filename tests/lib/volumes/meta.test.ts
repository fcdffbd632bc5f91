import { describe, expect, test } from "bun:test";
import {
  ANONYMOUS_LABEL,
  createdNow,
  inspectView,
  parseDriverOptions,
  parseKeyValues,
  sameOptions,
  volumeMetaSchema,
  volumeRow,
} from "../../../lib/volumes/meta.ts";

const raw = { schemaVersion: 1, name: "data", driver: "local", created: "2024-06-01T12:00:00Z", mountpoint: "/s/volumes/data/_data" };

describe("volume records", () => {
  test("defaults fill in what older records lack", () => {
    const m = volumeMetaSchema.parse(raw);
    expect(m).toEqual({ ...raw, driver: "local", labels: {}, options: {}, anonymous: false, copiedUp: false } as typeof m);
  });

  test("what skiff did not write is refused", () => {
    expect(volumeMetaSchema.safeParse({ ...raw, driver: "nfs" }).success).toBe(false);
    expect(volumeMetaSchema.safeParse({ ...raw, schemaVersion: 2 }).success).toBe(false);
    expect(volumeMetaSchema.safeParse({ ...raw, labels: { a: 1 } }).success).toBe(false);
    expect(volumeMetaSchema.safeParse({ ...raw, name: undefined }).success).toBe(false);
  });

  test("inspect is Docker-shaped", () => {
    const m = volumeMetaSchema.parse({ ...raw, labels: { env: "ci" } });
    expect(inspectView(m, "/here/_data")).toEqual({
      CreatedAt: "2024-06-01T12:00:00Z",
      Driver: "local",
      Labels: { env: "ci" },
      Mountpoint: "/here/_data",
      Name: "data",
      Options: {},
      Scope: "local",
    });
    expect(Object.keys(inspectView(m, "/x"))).toEqual(["CreatedAt", "Driver", "Labels", "Mountpoint", "Name", "Options", "Scope"]);
  });

  test("ls rows: labels joined, N/A where Docker prints it", () => {
    const m = volumeMetaSchema.parse({ ...raw, labels: { a: "1", [ANONYMOUS_LABEL]: "" } });
    const r = volumeRow(m, "/p");
    expect(r.Labels).toBe(`a=1,${ANONYMOUS_LABEL}=`);
    expect(r.Links).toBe("N/A");
    expect(r.Scope).toBe("local");
    expect(volumeRow(m, "/p", 2).Links).toBe("2");
  });

  test("CreatedAt has whole seconds in UTC", () => {
    expect(createdNow(new Date("2024-06-01T12:00:00.789Z"))).toBe("2024-06-01T12:00:00Z");
  });
});

describe("driver options", () => {
  test("none: a directory in the store", () => {
    expect(parseDriverOptions({})).toEqual({ kind: "plain" });
  });

  test("type=none,o=bind,device=PATH: a bind volume", () => {
    expect(parseDriverOptions({ type: "none", o: "bind", device: "/srv/data" })).toEqual({ kind: "bind", device: "/srv/data" });
    expect(parseDriverOptions({ type: "none", o: "rbind", device: "/srv" })).toEqual({ kind: "bind", device: "/srv" });
  });

  test("filesystem mounts are refused, not ignored", () => {
    expect(() => parseDriverOptions({ type: "tmpfs", device: "tmpfs", o: "size=10m" })).toThrow(/not supported yet/);
    expect(() => parseDriverOptions({ type: "none", o: "bind,uid=1000", device: "/x" })).toThrow(/not supported yet/);
    expect(() => parseDriverOptions({ type: "none", o: "bind", device: "rel" }, "v")).toThrow("volume v: a bind volume needs device=/absolute/host/path");
    expect(() => parseDriverOptions({ size: "1g" })).toThrow('invalid option key: "size"');
  });

  test("KEY=VALUE lists", () => {
    expect(parseKeyValues(["a=b", "c", "d=e=f", "g="], "label")).toEqual({ a: "b", c: "", d: "e=f", g: "" });
    expect(() => parseKeyValues(["=x"], "label")).toThrow('invalid label: "=x"');
  });

  test("option sets compare by content", () => {
    expect(sameOptions({}, {})).toBe(true);
    expect(sameOptions({ a: "1", b: "2" }, { b: "2", a: "1" })).toBe(true);
    expect(sameOptions({ a: "1" }, { a: "2" })).toBe(false);
    expect(sameOptions({ a: "1" }, { a: "1", b: "" })).toBe(false);
  });
});
