import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Digest } from "../../../lib/digest.ts";
import { ensureSpreadDir } from "../../../lib/fsutil.ts";
import { tryLock } from "../../../lib/lock.ts";
import { snapshotKey, SnapshotStore } from "../../../lib/snapshots/store.ts";
import { markTopDir } from "../../../lib/sys/libc.ts";

const CHAIN = `sha256:${"ab".repeat(32)}` as Digest;

let base: string;
let store: SnapshotStore;
let paths: { snapshots: string; locks: string };

beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), "skiff-snapshots-"));
  paths = { snapshots: join(base, "snapshots"), locks: join(base, "locks") };
  mkdirSync(paths.locks);
  ensureSpreadDir(paths.snapshots, 0o755);
  store = new SnapshotStore(paths, async (ps) => {
    for (const p of ps) rmSync(p, { recursive: true, force: true });
  });
});

afterEach(() => {
  rmSync(base, { recursive: true, force: true });
});

/** The T attribute as lsattr reports it; undefined where the filesystem has no attributes. */
function topDirAttribute(path: string): boolean | undefined {
  if (!Bun.which("lsattr")) return undefined;
  const r = Bun.spawnSync(["lsattr", "-d", path], { stderr: "ignore" });
  if (r.exitCode !== 0) return undefined;
  return (r.stdout.toString().split(/\s+/)[0] ?? "").includes("T");
}

describe("SnapshotStore.prepare", () => {
  test("makes <key>/fs (under a name of its own first) and leaves nothing else", async () => {
    const p = await store.prepare(CHAIN, { diffId: CHAIN, parent: null });
    expect(p?.fs).toBe(join(paths.snapshots, snapshotKey(CHAIN), "fs"));
    expect(existsSync(p?.fs as string)).toBe(true);
    expect(readdirSync(paths.snapshots)).toEqual([snapshotKey(CHAIN)]);
    store.commit(p as NonNullable<typeof p>, { size: 1 });
    expect(await store.prepare(CHAIN, { diffId: CHAIN, parent: null })).toBeUndefined();
    expect(store.meta(CHAIN)?.state).toBe("committed");
  });

  test("a directory left before its rename goes with the trash once its lock is free", async () => {
    const left = join(paths.snapshots, `.new-${snapshotKey(CHAIN)}-0123456789ab`);
    mkdirSync(join(left, "fs"), { recursive: true });
    writeFileSync(join(left, "fs", "f"), "x");
    const held = tryLock(join(paths.locks, `snapshot-${snapshotKey(CHAIN)}.lock`));
    expect(held).toBeDefined();
    await store.cleanTrash();
    expect(existsSync(left)).toBe(true); // its build may still be running
    held?.release();
    await store.cleanTrash();
    expect(existsSync(left)).toBe(false);
  });
});

describe("top directories", () => {
  test("ensureSpreadDir creates the directory with the T attribute where the filesystem has it", () => {
    const attr = topDirAttribute(paths.snapshots);
    if (attr !== undefined) expect(attr).toBe(true);
    expect(existsSync(paths.snapshots)).toBe(true);
  });

  test("markTopDir is false for what is not a directory, and for a missing path", () => {
    const file = join(base, "file");
    writeFileSync(file, "x");
    expect(markTopDir(file)).toBe(false);
    expect(markTopDir(join(base, "missing"))).toBe(false);
  });

  test.skipIf(!Bun.which("lsattr"))("markTopDir on an existing directory agrees with lsattr", () => {
    const dir = join(base, "plain");
    mkdirSync(dir);
    expect(topDirAttribute(dir) ?? false).toBe(false);
    const set = markTopDir(dir);
    expect(topDirAttribute(dir) ?? false).toBe(set);
    expect(markTopDir(dir)).toBe(set); // idempotent
  });
});
