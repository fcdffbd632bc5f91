/**
 * Archives for the archive unit tests: tars made in memory, extracted with
 * skiff's own extractArchive into temp dirs (removed by cleanupArchives).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { extractArchive, type ExtractedArchive } from "../../../../lib/images/archive/entries.ts";
import { makeTar, type TestEntry } from "../../layers/helpers.ts";

const dirs: string[] = [];

export function tempDir(prefix = "skiff-archive-test-"): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

export function cleanupArchives(): void {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

export function streamOf(bytes: Uint8Array): ReadableStream<Uint8Array> {
  return new Blob([bytes]).stream();
}

export async function extracted(tar: Uint8Array): Promise<ExtractedArchive> {
  return extractArchive(streamOf(tar), tempDir());
}

/** A tar of a directory tree (files and directories, sorted), like `tar -C dir -cf - .`. */
export async function tarOfDir(dir: string): Promise<Uint8Array> {
  const entries: TestEntry[] = [];
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      if (statSync(join(dir, r)).isDirectory()) {
        entries.push({ name: `${r}/`, type: "directory", mode: 0o755 });
        walk(r);
      } else {
        entries.push({ name: r, type: "file", mode: 0o644, content: readFileSync(join(dir, r)) });
      }
    }
  };
  walk("");
  return makeTar(entries);
}

export { makeTar, type TestEntry };
