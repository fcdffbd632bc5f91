/**
 * `save`, `load` and `import` once their flags are parsed: where the bytes
 * come from and go to (files, STDIN/STDOUT, never a terminal), and what is
 * printed, as Docker prints it.
 */
import { createWriteStream, openSync, renameSync, rmSync, statSync, type Stats } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { Context } from "../context.ts";
import { errnoCode, SkiffError, toSkiffError } from "../errors.ts";
import type { ArchiveOutput } from "../images/archive/tarout.ts";
import type { SaveFormat } from "../images/archive/save.ts";

function stdinStream(what: string): ReadableStream<Uint8Array> {
  if (process.stdin.isTTY) throw new SkiffError("InvalidArgument", `${what}: STDIN is a terminal; give a file or redirect STDIN`);
  return Bun.stdin.stream();
}

const OPEN_REASONS: Record<string, string> = {
  ENOENT: "no such file or directory",
  EACCES: "permission denied",
  EROFS: "read-only file system",
  EEXIST: "file exists",
};

/** Opens the file to write the archive to; errors name the path the user gave, not the temp file. */
function openOutput(path: string, flags: string, target: string): number {
  try {
    return openSync(path, flags, 0o644);
  } catch (e) {
    const code = errnoCode(e) ?? "";
    throw new SkiffError(toSkiffError(e).kind, `open ${target}: ${OPEN_REASONS[code] ?? (e as Error).message}`);
  }
}

async function closeStream(s: NodeJS.WritableStream): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    s.once("error", reject);
    s.end(() => resolve());
  });
}

/**
 * Writes the archive to `path`. A regular file is written beside the target
 * and renamed into place when complete (as Docker does), so a failed save
 * leaves nothing; devices and FIFOs are written in place.
 */
export async function saveToFile(path: string, write: (out: ArchiveOutput) => Promise<unknown>): Promise<void> {
  let st: Stats | undefined;
  try {
    st = statSync(path);
  } catch (e) {
    if (errnoCode(e) !== "ENOENT") throw toSkiffError(e, `open ${path}`);
  }
  if (st?.isDirectory()) throw new SkiffError("InvalidArgument", `open ${path}: is a directory`);
  const inPlace = st !== undefined && !st.isFile();
  const tmp = inPlace ? path : join(dirname(path), `.${basename(path)}.skiff-${process.pid}.tmp`);
  const out = createWriteStream("", { fd: openOutput(tmp, inPlace ? "w" : "wx", path) });
  try {
    await write(out);
    await closeStream(out);
    if (!inPlace) renameSync(tmp, path);
  } catch (e) {
    out.destroy();
    if (!inPlace) rmSync(tmp, { force: true });
    throw e;
  }
}

export async function saveCommand(ctx: Context, images: string[], opts: { output?: string; format: SaveFormat }): Promise<void> {
  const { saveImages } = await import("../images/archive/save.ts");
  const format = opts.format ?? "docker-archive";
  if (opts.output && opts.output !== "-") {
    await saveToFile(opts.output, (output) => saveImages(ctx, images, { format, output }));
    return;
  }
  if (process.stdout.isTTY) throw new SkiffError("InvalidArgument", "refusing to write to a terminal; use -o or redirect");
  await saveImages(ctx, images, { format, output: process.stdout });
}

export async function loadCommand(ctx: Context, opts: { input?: string; quiet?: boolean }): Promise<void> {
  const { loadArchive } = await import("../images/archive/load.ts");
  const { familiar } = await import("../images/views.ts");
  const input = opts.input && opts.input !== "-" ? opts.input : stdinStream("load");
  const progress = !opts.quiet && process.stdout.isTTY === true;
  await loadArchive(ctx, input, {
    onEvent: (e) => {
      if (e.type === "warning") process.stderr.write(`WARNING: ${e.message}\n`);
      else if (e.type === "loaded") {
        process.stdout.write(e.name ? `Loaded image: ${familiar(e.name)}\n` : `Loaded image ID: ${e.image.id}\n`);
      } else if (progress && e.status !== "loading") {
        process.stdout.write(`${e.id}: ${e.status === "exists" ? "Already exists" : "Loaded"}\n`);
      }
    },
  });
}

export async function importCommand(
  ctx: Context,
  file: string,
  reference: string | undefined,
  opts: { change?: string[]; message?: string; platform?: string },
): Promise<void> {
  const { importTarball } = await import("../images/import.ts");
  let input: ReadableStream<Uint8Array> | string;
  if (file === "-") {
    input = stdinStream("import");
  } else if (/^https?:\/\//i.test(file)) {
    const res = await fetch(file);
    if (!res.ok || !res.body) throw new SkiffError("Unavailable", `import ${file}: HTTP ${res.status}`);
    input = res.body;
  } else {
    input = file;
  }
  const image = await importTarball(ctx, input, {
    ...(reference ? { reference } : {}),
    ...(opts.change ? { changes: opts.change } : {}),
    ...(opts.message ? { message: opts.message } : {}),
    ...(opts.platform ? { platform: opts.platform } : {}),
  });
  process.stdout.write(`${image.id}\n`);
}
