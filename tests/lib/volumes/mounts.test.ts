/**
 * The hooks create and start call, on a Context over a temp storage root.
 * Copy-up through ctx.executor runs in-process only as root (rootless it
 * would start the built binary in a user namespace: the integration tests
 * cover that).
 */
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Context } from "../../../lib/context.ts";
import { createOptions, type CreateOptions } from "../../../lib/containers/options.ts";
import { leasedNames } from "../../../lib/volumes/leases.ts";
import {
  ANONYMOUS_OPTION,
  copyUpIfEmpty,
  discardPreparedVolumes,
  prepareVolumeMounts,
  releasePreparedVolumes,
  removeAnonymousVolumesAt,
  resolveVolumeSources,
} from "../../../lib/volumes/mounts.ts";
import { volumeStore } from "../../../lib/volumes/store.ts";
import { isRoot, TempDirs } from "../layers/helpers.ts";

const dirs = new TempDirs();
afterEach(() => dirs.cleanup());

function context(): Context {
  const base = dirs.make("skiff-volctx-");
  return new Context({ root: join(base, "root"), runroot: join(base, "run") });
}

function opts(mounts: CreateOptions["mounts"]): CreateOptions {
  return createOptions({ mounts });
}

const hex = /^[a-f0-9]{64}$/;

describe("prepareVolumeMounts", () => {
  test("named volumes are created when missing, anonymous ones made, binds untouched", async () => {
    const ctx = context();
    await volumeStore(ctx).create({ name: "existing", labels: { keep: "1" } });
    const input = opts([
      { type: "volume", source: "fresh", target: "/a", readOnly: true, options: ["nocopy"] },
      { type: "volume", source: "existing", target: "/b", readOnly: false, options: [] },
      { type: "volume", target: "/c/", readOnly: false, options: [] },
      { type: "bind", source: "/tmp", target: "/d", readOnly: false, options: [] },
      { type: "tmpfs", target: "/e", readOnly: false, options: [] },
    ]);
    const out = await prepareVolumeMounts(ctx, input, { image: null });
    const [a, b, c, d, e] = out.mounts;
    expect(a).toEqual({ type: "volume", source: "fresh", target: "/a", readOnly: true, options: ["nocopy"] });
    expect(b).toEqual(input.mounts[1]);
    expect(c?.source).toMatch(hex);
    expect(c?.options).toEqual([ANONYMOUS_OPTION]);
    expect(c?.target).toBe("/c/");
    expect(d).toEqual(input.mounts[3]);
    expect(e).toEqual(input.mounts[4]);
    const store = volumeStore(ctx);
    expect(store.get("fresh").anonymous).toBe(false);
    expect(store.get(c?.source as string).anonymous).toBe(true);
    expect(store.get("existing").labels).toEqual({ keep: "1" });
    // Leased until the record is written.
    expect(leasedNames(ctx.paths.volumes).has("fresh")).toBe(true);
    releasePreparedVolumes(out);
    expect(leasedNames(ctx.paths.volumes).size).toBe(0);
  });

  test("image VOLUMEs no user mount covers get anonymous volumes", async () => {
    const ctx = context();
    const out = await prepareVolumeMounts(ctx, opts([{ type: "bind", source: "/tmp", target: "/data/", readOnly: false, options: [] }]), {
      image: { Volumes: { "/data": {}, "/var/lib/db/": {}, "relative": {} } },
    });
    expect(out.mounts.length).toBe(2);
    expect(out.mounts[1]).toMatchObject({ type: "volume", target: "/var/lib/db", options: [ANONYMOUS_OPTION] });
    expect(out.mounts[1]?.source).toMatch(hex);
    expect(volumeStore(ctx).list().length).toBe(1);
  });

  test("nothing to do: the same options back, no storage touched", async () => {
    const ctx = context();
    const input = opts([{ type: "bind", source: "/tmp", target: "/x", readOnly: false, options: [] }]);
    expect(await prepareVolumeMounts(ctx, input, { image: { Volumes: null } })).toBe(input);
    expect(existsSync(ctx.paths.volumes)).toBe(false);
  });

  test("bad names and duplicate targets create nothing", async () => {
    const ctx = context();
    await expect(
      prepareVolumeMounts(ctx, opts([{ type: "volume", target: "/a", readOnly: false, options: [] }, { type: "volume", source: "x", target: "/b", readOnly: false, options: [] }]), { image: null }),
    ).rejects.toThrow(/invalid characters/);
    await expect(
      prepareVolumeMounts(ctx, opts([{ type: "volume", source: "v1", target: "/a", readOnly: false, options: [] }, { type: "volume", target: "/a/", readOnly: false, options: [] }]), { image: null }),
    ).rejects.toThrow("duplicate mount point: /a");
    expect(volumeStore(ctx).list()).toEqual([]);
  });
});

describe("resolveVolumeSources", () => {
  test("names become the volumes' data directories; the anonymous marker goes", async () => {
    const ctx = context();
    const prepared = await prepareVolumeMounts(ctx, opts([
      { type: "volume", source: "named", target: "/a", readOnly: false, options: ["nocopy"] },
      { type: "volume", target: "/b", readOnly: true, options: [] },
      { type: "volume", source: "/abs/host", target: "/c", readOnly: false, options: [] },
    ]), { image: null });
    const store = volumeStore(ctx);
    const anon = prepared.mounts[1]?.source as string;
    const out = resolveVolumeSources(ctx, prepared);
    expect(out.mounts).toEqual([
      { type: "volume", source: store.dataDir("named"), target: "/a", readOnly: false, options: ["nocopy"] },
      { type: "volume", source: store.dataDir(anon), target: "/b", readOnly: true, options: [] },
      { type: "volume", source: "/abs/host", target: "/c", readOnly: false, options: [] },
    ]);
    expect(prepared.mounts[1]?.options).toEqual([ANONYMOUS_OPTION]);
  });

  test("bind volumes give their device; missing volumes and devices are NotFound", async () => {
    const ctx = context();
    const device = dirs.make("skiff-dev-");
    const store = volumeStore(ctx);
    await store.create({ name: "bv", options: { type: "none", o: "bind", device } });
    const o = opts([{ type: "volume", source: "bv", target: "/a", readOnly: false, options: [] }]);
    expect(resolveVolumeSources(ctx, o).mounts[0]?.source).toBe(device);
    rmSync(device, { recursive: true });
    expect(() => resolveVolumeSources(ctx, o)).toThrow(/device .*: no such file or directory/);
    const gone = opts([{ type: "volume", source: "gone", target: "/g", readOnly: false, options: [] }]);
    expect(() => resolveVolumeSources(ctx, gone)).toThrow("volume gone (mounted at /g): no such volume");
  });
});

describe("removing anonymous volumes", () => {
  test("only those made for the container's anonymous mounts", async () => {
    const ctx = context();
    const prepared = await prepareVolumeMounts(ctx, opts([
      { type: "volume", source: "named", target: "/a", readOnly: false, options: [] },
      { type: "volume", target: "/b", readOnly: false, options: [] },
    ]), { image: { Volumes: { "/img": {} } } });
    expect(volumeStore(ctx).list().length).toBe(3);
    const removed = await removeAnonymousVolumesAt(
      { volumes: ctx.paths.volumes, locks: ctx.paths.locks, containers: ctx.containers },
      { id: "0".repeat(64), options: prepared },
      { remove: async (paths) => paths.forEach((p) => rmSync(p, { recursive: true, force: true })) },
    );
    expect(removed.sort()).toEqual([prepared.mounts[1]?.source, prepared.mounts[2]?.source].sort() as string[]);
    expect(volumeStore(ctx).list().map((m) => m.name)).toEqual(["named"]);
    expect(readdirSync(ctx.paths.volumes).filter((n) => n.startsWith(".trash"))).toEqual([]);
  });

  test.skipIf(!isRoot)("a failed create discards what it prepared (in-process executor: root)", async () => {
    const ctx = context();
    const prepared = await prepareVolumeMounts(ctx, opts([{ type: "volume", target: "/b", readOnly: false, options: [] }]), { image: null });
    await discardPreparedVolumes(ctx, prepared);
    expect(volumeStore(ctx).list()).toEqual([]);
    expect(leasedNames(ctx.paths.volumes).size).toBe(0);
  });
});

describe.skipIf(!isRoot)("copyUpIfEmpty (in-process executor: root)", () => {
  test("once per volume, recorded in meta", async () => {
    const ctx = context();
    const layer = dirs.make("skiff-layer-");
    mkdirSync(join(layer, "app", "conf"), { recursive: true, mode: 0o755 });
    writeFileSync(join(layer, "app", "conf", "x.ini"), "x=1");
    const store = volumeStore(ctx);
    await store.create({ name: "cfg" });
    const req = { volume: "cfg", imageLayers: [layer], targetInImage: "/app/conf" };
    expect(await copyUpIfEmpty(ctx, req)).toBe("copied");
    expect(readdirSync(store.dataDir("cfg"))).toEqual(["x.ini"]);
    expect(store.get("cfg").copiedUp).toBe(true);
    expect(store.get("cfg").copyingUp).toBeUndefined();
    rmSync(join(store.dataDir("cfg"), "x.ini"));
    expect(await copyUpIfEmpty(ctx, req)).toBe("done-before");
    expect(readdirSync(store.dataDir("cfg"))).toEqual([]);
  });

  test("an interrupted copy-up is redone from empty", async () => {
    const ctx = context();
    const layer = dirs.make("skiff-layer-");
    mkdirSync(join(layer, "d"), { mode: 0o711 });
    writeFileSync(join(layer, "d", "f"), "f");
    const store = volumeStore(ctx);
    const { meta } = await store.create({ name: "half" });
    writeFileSync(join(store.dataDir("half"), "partial"), "p");
    store.writeMeta({ ...meta, copyingUp: true });
    expect(await copyUpIfEmpty(ctx, { volume: "half", imageLayers: [layer], targetInImage: "/d" })).toBe("copied");
    expect(readdirSync(store.dataDir("half"))).toEqual(["f"]);
    expect(statSync(store.dataDir("half")).mode & 0o7777).toBe(0o711);
  });
});
