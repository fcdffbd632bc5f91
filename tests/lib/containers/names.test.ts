/**
 * Container name reservation (ContainerStore.reserveName): a symlink per
 * name; a dead owner's name is taken over, a live one's never, even when
 * that owner's create has not written its record yet.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ContainerStore } from "../../../lib/containers/record.ts";
import { SkiffError } from "../../../lib/errors.ts";

const A = "a".repeat(64);
const B = "b".repeat(64);
let dir: string;
let store: ContainerStore;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "skiff-names-"));
  store = new ContainerStore(dir);
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function conflict(fn: () => void): SkiffError | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof SkiffError) return e;
    throw e;
  }
  return undefined;
}

describe("reserveName", () => {
  test("first come, first served; the owner may reserve again", () => {
    mkdirSync(store.dir(A));
    mkdirSync(store.dir(B));
    store.reserveName("web", A);
    store.reserveName("web", A);
    const e = conflict(() => store.reserveName("web", B));
    expect(e?.kind).toBe("Conflict");
    expect(e?.message).toContain('"/web" is already in use');
    expect(store.nameOwner("web")).toBe(A);
  });

  test("an owner whose create has made its directory but no record yet keeps the name", () => {
    // The window between reserving the name and writing config.json.
    mkdirSync(store.dir(A));
    store.reserveName("busy", A);
    mkdirSync(store.dir(B));
    expect(conflict(() => store.reserveName("busy", B))?.kind).toBe("Conflict");
    expect(store.nameOwner("busy")).toBe(A);
  });

  test("a name left by an owner that is gone is taken over", () => {
    mkdirSync(store.dir(A));
    store.reserveName("left", A);
    rmSync(store.dir(A), { recursive: true });
    mkdirSync(store.dir(B));
    store.reserveName("left", B);
    expect(readlinkSync(join(dir, ".names", "left"))).toBe(B);
  });

  test("release only drops one's own name", () => {
    mkdirSync(store.dir(A));
    store.reserveName("mine", A);
    store.releaseName("mine", B);
    expect(store.nameOwner("mine")).toBe(A);
    store.releaseName("mine", A);
    expect(store.nameOwner("mine")).toBeUndefined();
  });

  test("invalid names are refused", () => {
    expect(conflict(() => store.reserveName("-bad", A))?.kind).toBe("InvalidArgument");
    expect(conflict(() => store.reserveName("a/b", A))?.kind).toBe("InvalidArgument");
  });
});
