/**
 * Platforms (`linux/arm64/v8`) and choosing an image for one from an index.
 * Variants are normalised as containerd and Docker do: arm64 with no variant
 * is v8, arm with no variant is v7, amd64 v1 is plain amd64.
 */
import { endianness } from "node:os";
import { SkiffError } from "../errors.ts";
import type { Descriptor, ImageIndex } from "./manifest.ts";

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

const ARCH_ALIASES: Readonly<Record<string, { architecture: string; variant?: string }>> = {
  x86_64: { architecture: "amd64" },
  "x86-64": { architecture: "amd64" },
  aarch64: { architecture: "arm64" },
  armhf: { architecture: "arm", variant: "v7" },
  armel: { architecture: "arm", variant: "v6" },
  i386: { architecture: "386" },
  i686: { architecture: "386" },
  x86: { architecture: "386" },
};

/** Architectures whose variants are ordered levels (`v6 < v7 < v8`). */
const LEVELLED = new Set(["arm", "arm64", "amd64"]);

/** Normalises names and variants: `linux/aarch64` → `linux/arm64/v8`, `linux/arm` → `linux/arm/v7`. */
export function normalizePlatform(p: Platform): Platform {
  const os = p.os.toLowerCase();
  let architecture = p.architecture.toLowerCase();
  let variant = p.variant?.toLowerCase() || undefined;
  const alias = ARCH_ALIASES[architecture];
  if (alias) {
    architecture = alias.architecture;
    variant = variant ?? alias.variant;
  }
  if (variant !== undefined && /^[0-9]+$/.test(variant)) variant = `v${variant}`;
  if (architecture === "arm64" && variant === undefined) variant = "v8";
  if (architecture === "arm" && variant === undefined) variant = "v7";
  if (architecture === "amd64" && variant === "v1") variant = undefined;
  return { os, architecture, ...(variant !== undefined ? { variant } : {}) };
}

/** The platform of this machine, for Linux containers. */
export function hostPlatform(): Platform {
  switch (process.arch) {
    case "x64":
      return { os: "linux", architecture: "amd64" };
    case "arm64":
      return { os: "linux", architecture: "arm64", variant: "v8" };
    case "arm":
      return { os: "linux", architecture: "arm", variant: "v7" };
    case "ia32":
      return { os: "linux", architecture: "386" };
    case "ppc64":
      return { os: "linux", architecture: endianness() === "LE" ? "ppc64le" : "ppc64" };
    case "mips":
      return { os: "linux", architecture: endianness() === "LE" ? "mipsle" : "mips" };
    default:
      // s390x, riscv64, loong64 use the same names as Go.
      return { os: "linux", architecture: process.arch };
  }
}

/**
 * Parses `os/arch[/variant]` (or just `arch`, meaning linux) and normalises it.
 *
 *   parsePlatform("linux/arm64") // { os: "linux", architecture: "arm64", variant: "v8" }
 */
export function parsePlatform(s: string): Platform {
  const parts = s.trim().split("/");
  if (parts.length > 3 || parts.some((p) => !/^[A-Za-z0-9._-]+$/.test(p))) {
    throw new SkiffError("InvalidArgument", `invalid platform ${JSON.stringify(s)}: expected os/arch[/variant]`);
  }
  const [a, b, c] = parts as [string, string | undefined, string | undefined];
  if (b === undefined) {
    if (a.toLowerCase() === "linux") return hostPlatform();
    return normalizePlatform({ os: "linux", architecture: a });
  }
  return normalizePlatform({ os: a, architecture: b, ...(c !== undefined ? { variant: c } : {}) });
}

/** `linux/arm64/v8`, `linux/amd64`. */
export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ""}`;
}

function level(variant: string | undefined): number {
  if (variant === undefined) return 1;
  const m = /^v([0-9]+)$/.exec(variant);
  return m ? Number(m[1]) : Number.NaN;
}

/**
 * How well `have` serves `want`: 0 is an exact match, a positive number a
 * compatible older variant (arm/v6 on arm/v7: smaller is better), undefined
 * no match. Both are normalised first.
 */
export function platformDistance(want: Platform, have: Platform): number | undefined {
  const w = normalizePlatform(want);
  const h = normalizePlatform(have);
  if (w.os !== h.os || w.architecture !== h.architecture) return undefined;
  if (w.variant === h.variant) return 0;
  if (!LEVELLED.has(w.architecture)) return undefined;
  const diff = level(w.variant) - level(h.variant);
  return diff > 0 ? diff : undefined;
}

/** Attestation and other non-image entries in an index (buildkit's provenance, `unknown/unknown`). */
export function isAttestationManifest(d: Descriptor): boolean {
  if (d.annotations?.["vnd.docker.reference.type"] !== undefined) return true;
  return d.platform?.os === "unknown" && d.platform.architecture === "unknown";
}

/**
 * Picks the manifest for `platform` from an index: an exact os/arch/variant
 * match, else the closest compatible older variant (arm/v6 for arm/v7). An
 * entry with no platform is taken only when no entry with one matches (the
 * caller should then check the image config). Attestations are skipped.
 * NotFound, listing what the index has, when nothing fits.
 */
export function selectManifest(index: ImageIndex, platform: Platform): Descriptor {
  let best: { d: Descriptor; distance: number } | undefined;
  let unlabelled: Descriptor | undefined;
  const available: string[] = [];
  for (const d of index.manifests) {
    if (isAttestationManifest(d)) continue;
    if (!d.platform) {
      unlabelled ??= d;
      continue;
    }
    const have: Platform = {
      os: d.platform.os,
      architecture: d.platform.architecture,
      ...(d.platform.variant ? { variant: d.platform.variant } : {}),
    };
    available.push(formatPlatform(have));
    const distance = platformDistance(platform, have);
    if (distance !== undefined && (best === undefined || distance < best.distance)) best = { d, distance };
  }
  if (best) return best.d;
  if (unlabelled) return unlabelled;
  const list = available.length > 0 ? [...new Set(available)].join(", ") : "none";
  throw new SkiffError(
    "NotFound",
    `no image for platform ${formatPlatform(normalizePlatform(platform))} in the index (available: ${list})`,
  );
}
