/**
 * End to end: two unpacked layers really mounted with kernel overlayfs
 * (`userxattr`), in a private mount namespace so no mount can outlive the
 * test: as root `unshare --mount`, otherwise a user namespace as well.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { isRoot, TempDirs, unpackInto } from "./helpers.ts";

const dirs = new TempDirs();
afterEach(() => dirs.cleanup());

const UNSHARE = isRoot
  ? ["unshare", "--mount", "--propagation", "private"]
  : ["unshare", "--user", "--map-root-user", "--map-auto", "--mount"];

/** Runs `script` with args in a private mount namespace; undefined plus a reason when that is impossible. */
function inMountNs(script: string, args: string[]): { ok: boolean; out: string; err: string } {
  try {
    const r = Bun.spawnSync([...UNSHARE, "sh", "-euc", script, "sh", ...args], { stdout: "pipe", stderr: "pipe" });
    return { ok: r.exitCode === 0, out: r.stdout.toString(), err: r.stderr.toString() };
  } catch (e) {
    return { ok: false, out: "", err: e instanceof Error ? e.message : String(e) };
  }
}

function overlaySupport(): string | undefined {
  const tmp = new TempDirs();
  try {
    const base = tmp.make("skiff-ovl-probe-");
    const d = ["l", "u", "w", "m"].map((n) => join(base, n));
    for (const p of d) mkdirSync(p);
    const r = inMountNs('mount -t overlay overlay -o "lowerdir=$1,upperdir=$2,workdir=$3,userxattr" "$4"', d);
    return r.ok ? undefined : `${UNSHARE.join(" ")} + overlay mount failed: ${r.err.trim()}`;
  } finally {
    tmp.cleanup();
  }
}

const unsupported = overlaySupport();
if (unsupported) console.warn(`overlay e2e skipped: ${unsupported}`);

describe("overlayfs end to end", () => {
  test.skipIf(unsupported !== undefined)("whiteouts hide lower files and opaque dirs hide lower contents", async () => {
    const l1 = await unpackInto(dirs, [
      { name: "a/keep", content: "keep" },
      { name: "a/gone", content: "gone" },
      { name: "top-gone", content: "x" },
      { name: "dir-gone/inner", content: "x" },
      { name: "opq/lower-only", content: "lower" },
      { name: "opq/both", content: "lower" },
      { name: "opq/sub/deep", content: "lower" },
    ]);
    const l2 = await unpackInto(dirs, [
      { name: "a/.wh.gone" },
      { name: "a/new", content: "new" },
      { name: ".wh.top-gone" },
      { name: ".wh.dir-gone" },
      { name: "opq/.wh..wh..opq" },
      { name: "opq/both", content: "upper" },
      { name: "opq/upper-only", content: "upper" },
    ]);
    const base = dirs.make("skiff-ovl-");
    const [upper, work, merged] = ["upper", "work", "merged"].map((n) => join(base, n)) as [string, string, string];
    for (const p of [upper, work, merged]) mkdirSync(p);
    const script = [
      'mount -t overlay overlay -o "lowerdir=$1:$2,upperdir=$3,workdir=$4,userxattr" "$5"',
      'cd "$5"',
      "find . -mindepth 1 | sort",
      "echo ---",
      "cat opq/both a/keep",
    ].join("\n");
    const r = inMountNs(script, [l2.dest, l1.dest, upper, work, merged]);
    expect(r.err).toBe("");
    expect(r.ok).toBe(true);
    const [listing, contents] = r.out.split("---\n") as [string, string];
    expect(listing.trim().split("\n")).toEqual([
      "./a",
      "./a/keep",
      "./a/new",
      "./opq",
      "./opq/both",
      "./opq/upper-only",
    ]);
    expect(contents).toBe("upperkeep");
  });
});
