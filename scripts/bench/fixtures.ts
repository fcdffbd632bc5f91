/**
 * Benchmark images, built from local data (no downloads), pushed to a
 * registry on loopback: busybox (from busybox-static) and a 3-layer image of
 * about 38 MB compressed / 100 MB unpacked, the size the targets name.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { busyboxImage, pushLayout, writeImageLayout, type FixtureEntry, type ImageSpec } from "../../tests/helpers/images.ts";
import { randomBytes, textBytes } from "../../tests/helpers/images/bytes.ts";
import { DEFAULT_PATH } from "../../tests/helpers/images/busybox.ts";

const MiB = 1024 * 1024;

/** ~100 MB unpacked, ~38 MB as gzip/zstd layers. */
export function benchImage(): ImageSpec {
  const small: FixtureEntry[] = [];
  for (let i = 0; i < 4000; i++) {
    const path = `app/d${String(i % 80).padStart(2, "0")}/f${String(i).padStart(5, "0")}.txt`;
    small.push({ type: "file", path, content: textBytes(path, 2048 + ((i * 131) % 6144)) });
  }
  const big: FixtureEntry[] = Array.from({ length: 5 }, (_, i) => ({ type: "file", path: `data/blob-${i}.bin`, content: randomBytes(`blob-${i}`, Math.floor(4.7 * MiB)) }));
  const text: FixtureEntry[] = Array.from({ length: 10 }, (_, i) => ({
    type: "file",
    path: `docs/part-${i}.txt`,
    content: textBytes(`docs-${i}`, Math.floor(4.8 * MiB)),
  }));
  text.push({ type: "file", path: "docs/noise.bin", content: randomBytes("noise", 3 * MiB) });
  return {
    layers: [
      { compression: "gzip", entries: small },
      { compression: "gzip", entries: big },
      { compression: "zstd", entries: text },
    ],
    config: { Env: [DEFAULT_PATH], Cmd: ["sh"] },
  };
}

/** Pushes busybox and the 3-layer image; returns their references. */
export async function publishBenchImages(registryHost: string): Promise<{ busybox: string; big: string }> {
  const dir = mkdtempSync(join(tmpdir(), "skiff-bench-layouts-"));
  try {
    await writeImageLayout(join(dir, "bb"), [{ tag: "latest", spec: busyboxImage() }]);
    await writeImageLayout(join(dir, "big"), [{ tag: "latest", spec: benchImage() }]);
    const busybox = `${registryHost}/bench/busybox:latest`;
    const big = `${registryHost}/bench/big:latest`;
    await pushLayout(join(dir, "bb"), busybox, { tag: "latest" });
    await pushLayout(join(dir, "big"), big, { tag: "latest" });
    return { busybox, big };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
