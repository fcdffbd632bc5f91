/**
 * The copy driver's difference: a full copy of two image layers (made by
 * copy-up, as create does) compared back with them, before and after
 * changes, as a changes list and as a commit layer tar read by tar-stream.
 * Runs unprivileged: the image's whiteout is the legacy `.wh.` file, which
 * the merged view honours like a 0/0 device.
 */
import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tar from "tar-stream";
import { copyDiff } from "../../../lib/containers/copy-diff.ts";
import { CHANGE, copyChanges } from "../../../lib/containers/upper-changes.ts";
import { copyLayerTar } from "../../../lib/images/commit-layer.ts";
import { copyUp } from "../../../lib/volumes/copyup.ts";

const base = mkdtempSync(join(tmpdir(), "skiff-copy-diff-"));
afterAll(() => rmSync(base, { recursive: true, force: true }));

const PAST = new Date("2020-01-02T03:04:05.678Z");

/** Gives every entry under `dir` (and `dir`) a fixed old mtime, so a change now is always a different time. */
function age(dir: string): void {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p, { throwIfNoEntry: false });
    if (st?.isDirectory()) age(p);
    if (st) utimesSync(p, PAST, PAST);
  }
  utimesSync(dir, PAST, PAST);
}

let bottom: string;
let top: string;
let upper: string;

beforeEach(() => {
  const d = mkdtempSync(join(base, "case-"));
  bottom = join(d, "bottom");
  top = join(d, "top");
  upper = join(d, "upper");
  for (const p of ["dir", "deep/x", "sub", "gone-dir/inner"]) mkdirSync(join(bottom, p), { recursive: true });
  writeFileSync(join(bottom, "keep"), "kept\n");
  writeFileSync(join(bottom, "gone"), "whited out by the top layer\n");
  writeFileSync(join(bottom, "dir/a"), "a\n");
  writeFileSync(join(bottom, "dir/b"), "b\n");
  writeFileSync(join(bottom, "deep/x/file"), "12345\n");
  writeFileSync(join(bottom, "sub/child"), "child\n");
  writeFileSync(join(bottom, "gone-dir/inner/f"), "f\n");
  symlinkSync("keep", join(bottom, "link"));
  mkdirSync(top);
  writeFileSync(join(top, ".wh.gone"), "");
  writeFileSync(join(top, "keep"), "kept, from the top layer\n");
  age(bottom);
  age(top);
  mkdirSync(upper);
  copyUp({ layers: [top, bottom], target: "/", dest: upper }, { chown: false });
});

async function tarEntries(): Promise<{ names: string[]; count: number; bodies: Map<string, string> }> {
  const stats = { entries: 0 };
  const extract = tar.extract();
  const names: string[] = [];
  const bodies = new Map<string, string>();
  const done = new Promise<void>((resolve, reject) => {
    extract.on("entry", (h, stream, next) => {
      const parts: Buffer[] = [];
      stream.on("data", (d: unknown) => parts.push(d as Buffer));
      stream.on("end", () => {
        names.push(h.type === "symlink" ? `${h.name} -> ${h.linkname}` : h.name);
        bodies.set(h.name, Buffer.concat(parts).toString());
        next();
      });
    });
    extract.on("finish", resolve);
    extract.on("error", reject);
  });
  for (const c of copyLayerTar(upper, [top, bottom], stats)) extract.write(Buffer.from(c));
  extract.end(Buffer.alloc(0));
  await done;
  return { names, count: stats.entries, bodies };
}

describe("copy driver difference", () => {
  test("a fresh copy is the merged image: no changes, an empty layer", async () => {
    expect(readdirSync(upper).sort()).toEqual(["deep", "dir", "gone-dir", "keep", "link", "sub"]);
    const steps = [...copyDiff(upper, [top, bottom])];
    expect(steps.filter((s) => s.kind === "entry" || s.kind === "deleted" || (s.kind === "dir" && s.change !== "same"))).toEqual([]);
    expect(copyChanges(upper, [top, bottom])).toEqual([]);
    const { names, count } = await tarEntries();
    expect(names).toEqual([]);
    expect(count).toBe(0);
  });

  test("added, modified and deleted entries, as diff lists them", () => {
    writeFileSync(join(upper, "dir/new"), "new\n");
    unlinkSync(join(upper, "dir/b"));
    writeFileSync(join(upper, "deep/x/file"), "54321\n"); // same size, new time
    rmSync(join(upper, "gone-dir"), { recursive: true });
    rmSync(join(upper, "sub"), { recursive: true });
    writeFileSync(join(upper, "sub"), "a directory became a file\n");
    unlinkSync(join(upper, "link"));
    symlinkSync("dir/a", join(upper, "link"));
    utimesSync(join(upper, "link"), PAST, PAST); // only the target differs
    expect(copyChanges(upper, [top, bottom]).map((c) => [c.Kind, c.Path])).toEqual([
      [CHANGE.modified, "/deep/x/file"],
      [CHANGE.modified, "/dir"],
      [CHANGE.deleted, "/dir/b"],
      [CHANGE.added, "/dir/new"],
      [CHANGE.deleted, "/gone-dir"],
      [CHANGE.modified, "/link"],
      [CHANGE.modified, "/sub"],
    ]);
  });

  test("the commit layer holds the changes, their unchanged parents and whiteouts", async () => {
    writeFileSync(join(upper, "deep/x/file"), "54321\n");
    unlinkSync(join(upper, "dir/b"));
    utimesSync(join(upper, "dir"), PAST, PAST); // a deletion in an otherwise unchanged directory
    rmSync(join(upper, "gone-dir"), { recursive: true });
    writeFileSync(join(upper, "added"), "added\n");
    const { names, count, bodies } = await tarEntries();
    expect(names).toEqual(["added", "deep/", "deep/x/", "deep/x/file", "dir/", "dir/.wh.b", ".wh.gone-dir"]);
    expect(count).toBe(names.length);
    expect(bodies.get("deep/x/file")).toBe("54321\n");
  });

  test("a name the image itself whited out is not a deletion", () => {
    expect([...copyDiff(upper, [top, bottom])].some((s) => s.kind === "deleted")).toBe(false);
    writeFileSync(join(upper, "gone"), "back\n");
    expect(copyChanges(upper, [top, bottom])).toEqual([{ Path: "/gone", Kind: CHANGE.added }]);
  });

  test("an image with no layers: everything is added", () => {
    writeFileSync(join(upper, "keep"), "x");
    const kinds = new Set(copyChanges(upper, []).map((c) => c.Kind));
    expect([...kinds]).toEqual([CHANGE.added]);
  });
});
