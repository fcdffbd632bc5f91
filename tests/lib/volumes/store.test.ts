/**
 * The volume store on a temp directory, as an ordinary user: records,
 * idempotent create, locking, removal through the trash, leases.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ANONYMOUS_LABEL } from "../../../lib/volumes/meta.ts";
import { LEASE_TTL_MS, leasedNames, releaseLease, writeLease } from "../../../lib/volumes/leases.ts";
import { VolumeStore } from "../../../lib/volumes/store.ts";
import { usageOf, volumeNamesOf } from "../../../lib/volumes/usage.ts";
import { createOptions } from "../../../lib/containers/options.ts";
import { TempDirs } from "../layers/helpers.ts";

const dirs = new TempDirs();
afterEach(() => dirs.cleanup());

function makeStore(): { store: VolumeStore; root: string; removed: string[][] } {
  const root = dirs.make("skiff-vol-");
  const removed: string[][] = [];
  const store = new VolumeStore({ volumes: join(root, "volumes"), locks: join(root, "locks") }, async (paths) => {
    removed.push(paths);
    for (const p of paths) rmSync(p, { recursive: true, force: true });
  });
  return { store, root, removed };
}

describe("create", () => {
  test("lays out _data and meta.json, 0755 data root", async () => {
    const { store, root } = makeStore();
    const { meta, created } = await store.create({ name: "data", labels: { env: "ci" } });
    expect(created).toBe(true);
    expect(meta).toMatchObject({ name: "data", driver: "local", labels: { env: "ci" }, options: {}, anonymous: false, copiedUp: false });
    expect(meta.mountpoint).toBe(join(root, "volumes", "data", "_data"));
    expect(statSync(store.dataDir("data")).mode & 0o7777).toBe(0o755);
    expect(readdirSync(join(root, "volumes")).sort()).toEqual(["data"]);
    expect(store.get("data")).toEqual(meta);
  });

  test("again with the same options: the same volume; other options: Conflict", async () => {
    const { store } = makeStore();
    const first = await store.create({ name: "v1", labels: { a: "1" } });
    const again = await store.create({ name: "v1", labels: { b: "2" } });
    expect(again.created).toBe(false);
    expect(again.meta).toEqual(first.meta);
    await expect(store.create({ name: "v1", options: { type: "none", o: "bind", device: "/tmp" } })).rejects.toThrow(/already exists with different options/);
  });

  test("no name: a random 64-hex one, not anonymous", async () => {
    const { store } = makeStore();
    const { meta } = await store.create({});
    expect(meta.name).toMatch(/^[a-f0-9]{64}$/);
    expect(meta.anonymous).toBe(false);
  });

  test("anonymous volumes carry Docker's label", async () => {
    const { store } = makeStore();
    const { meta } = await store.ensure("abcd", { anonymous: true });
    expect(meta.anonymous).toBe(true);
    expect(meta.labels).toEqual({ [ANONYMOUS_LABEL]: "" });
  });

  test("concurrent creates of one name make one volume", async () => {
    const { store, root } = makeStore();
    const results = await Promise.all(Array.from({ length: 8 }, () => store.create({ name: "race" })));
    expect(results.filter((r) => r.created).length).toBe(1);
    expect(new Set(results.map((r) => r.meta.created)).size).toBe(1);
    expect(readdirSync(join(root, "volumes"))).toEqual(["race"]);
  });

  test("invalid names and options create nothing", async () => {
    const { store, root } = makeStore();
    await expect(store.create({ name: "../x" })).rejects.toThrow(/invalid characters/);
    await expect(store.create({ name: "t1", options: { type: "nfs" } })).rejects.toThrow(/not supported yet/);
    expect(existsSync(join(root, "volumes"))).toBe(false);
  });

  test("ensure takes an existing volume whatever its options", async () => {
    const { store } = makeStore();
    await store.create({ name: "b1", options: { type: "none", o: "bind", device: "/srv" } });
    const { meta, created } = await store.ensure("b1");
    expect(created).toBe(false);
    expect(store.sourcePath(meta)).toBe("/srv");
  });
});

describe("list and read", () => {
  test("corrupt records and leftovers are not volumes", async () => {
    const { store, root } = makeStore();
    await store.create({ name: "good" });
    mkdirSync(join(root, "volumes", "broken"));
    writeFileSync(join(root, "volumes", "broken", "meta.json"), "{nope");
    mkdirSync(join(root, "volumes", ".tmp-x-1"));
    expect(store.list().map((m) => m.name)).toEqual(["good"]);
    expect(() => store.get("broken")).toThrow(/corrupt JSON/);
    expect(() => store.get("missing")).toThrow("no such volume: missing");
    expect(store.read(".tmp-x-1")).toBeUndefined();
  });
});

describe("remove", () => {
  test("goes through the trash and the remover", async () => {
    const { store, root, removed } = makeStore();
    await store.create({ name: "gone" });
    writeFileSync(join(store.dataDir("gone"), "f"), "x");
    expect(await store.remove("gone", { inUse: () => [] })).toBe(true);
    expect(removed.length).toBe(1);
    expect(removed[0]?.[0]).toMatch(/\/volumes\/\.trash-gone-[a-f0-9]{8}$/);
    expect(readdirSync(join(root, "volumes"))).toEqual([]);
  });

  test("in use: Conflict naming the containers, unless forced", async () => {
    const { store } = makeStore();
    await store.create({ name: "used" });
    const err = await store.remove("used", { inUse: () => ["c1", "c2"] }).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: "Conflict", message: "remove used: volume is in use - [c1, c2]" });
    expect(store.exists("used")).toBe(true);
    expect(await store.remove("used", { force: true, inUse: () => ["c1"] })).toBe(true);
    expect(store.exists("used")).toBe(false);
  });

  test("missing: NotFound, or nothing with force", async () => {
    const { store } = makeStore();
    await expect(store.remove("nope", { inUse: () => [] })).rejects.toMatchObject({ kind: "NotFound" });
    expect(await store.remove("nope", { force: true, inUse: () => [] })).toBe(false);
  });

  test("a bind volume's device is left alone", async () => {
    const { store } = makeStore();
    const device = dirs.make("skiff-dev-");
    writeFileSync(join(device, "keep"), "x");
    await store.create({ name: "bv", options: { type: "none", o: "bind", device } });
    await store.remove("bv", { inUse: () => [] });
    expect(existsSync(join(device, "keep"))).toBe(true);
  });

  test("leftovers: trash always, temp dirs once stale", async () => {
    const { store, root } = makeStore();
    await store.create({ name: "keep" });
    const vols = join(root, "volumes");
    for (const d of [".trash-a-1", ".tmp-b-1", ".tmp-c-1"]) mkdirSync(join(vols, d));
    const old = new Date(Date.now() - 120_000);
    utimesSync(join(vols, ".tmp-c-1"), old, old);
    await store.cleanLeftovers();
    expect(readdirSync(vols).sort()).toEqual([".tmp-b-1", "keep"]);
  });
});

describe("leases", () => {
  test("a live process's lease holds its names; released, it does not", () => {
    const root = dirs.make("skiff-lease-");
    const path = writeLease(root, ["a1", "b2"]);
    expect([...leasedNames(root)].sort()).toEqual(["a1", "b2"]);
    releaseLease(path);
    expect(leasedNames(root).size).toBe(0);
  });

  test("expired or dead leases hold nothing and are deleted", () => {
    const root = dirs.make("skiff-lease-");
    writeLease(root, ["old"], Date.now() - LEASE_TTL_MS - 1);
    const dead = join(root, ".leases", "999999999-x.json");
    writeFileSync(dead, JSON.stringify({ pid: 999_999_999, start: 1, time: Date.now(), names: ["dead"] }));
    writeFileSync(join(root, ".leases", "junk.json"), "{");
    expect(leasedNames(root).size).toBe(0);
    expect(readdirSync(join(root, ".leases"))).toEqual([]);
  });
});

describe("usage from records", () => {
  test("volume mounts name volumes; binds and absolute sources do not", () => {
    const mounts = createOptions({
      mounts: [
        { type: "volume", source: "data", target: "/a" },
        { type: "volume", source: "/host", target: "/b" },
        { type: "bind", source: "/h", target: "/c" },
        { type: "volume", target: "/d" },
        { type: "volume", source: "data", target: "/e" },
      ],
    }).mounts;
    expect(volumeNamesOf(mounts)).toEqual(["data"]);
  });

  test("name → container ids", () => {
    const r = (id: string, names: string[]) => ({ id, options: createOptions({ mounts: names.map((n, i) => ({ type: "volume" as const, source: n, target: `/m${i}` })) }) });
    const usage = usageOf([r("c1", ["a1", "b1"]), r("c2", ["a1"]), r("c3", [])]);
    expect(Object.fromEntries(usage)).toEqual({ a1: ["c1", "c2"], b1: ["c1"] });
  });
});
