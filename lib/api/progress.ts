/**
 * Pull and push progress as dockerd streams it: one JSON message per line
 * (`{"status","id","progressDetail","progress"}`), which the docker CLI
 * renders as bars on a terminal and as lines otherwise.
 */
import type { PullEvent, LayerStatus } from "../images/pull.ts";
import type { PushEvent } from "../images/push.ts";
import { familiarString, type ImageReference } from "../registry/reference.ts";

export interface JsonMessage {
  status?: string;
  id?: string;
  progressDetail?: { current?: number; total?: number };
  progress?: string;
  aux?: Record<string, unknown>;
}

const LAYER_STATUS: Record<LayerStatus, string> = {
  waiting: "Waiting",
  exists: "Already exists",
  downloading: "Downloading",
  extracting: "Extracting",
  verifying: "Verifying Checksum",
  done: "Pull complete",
};

/** Docker's text bar: `[=====>      ]  1.2MB/3.4MB`. */
export function progressBar(current: number, total: number): string {
  if (total <= 0) return "";
  const width = 50;
  const filled = Math.max(0, Math.min(width, Math.floor((current / total) * width)));
  const bar = `${"=".repeat(Math.max(0, filled - 1))}${filled > 0 ? ">" : ""}${" ".repeat(width - filled)}`;
  return `[${bar}] ${human(current)}/${human(total)}`;
}

function human(n: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i += 1;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 3 : v < 100 ? 2 : 1).replace(/\.?0+$/, "")}${units[i]}`;
}

/** Turns pull events into Docker messages; keeps per-layer state to say "Pulling fs layer" once. */
export class PullMessages {
  readonly #seen = new Map<string, string>();
  readonly #ref: ImageReference;

  constructor(ref: ImageReference) {
    this.#ref = ref;
  }

  /** The first line dockerd sends: "Pulling from library/busybox" for the tag. */
  header(): JsonMessage {
    const repo = familiarString({ ...this.#ref, tag: undefined, digest: undefined });
    const shown = this.#ref.registry === "docker.io" && !repo.includes("/") ? `library/${repo}` : this.#ref.registry === "docker.io" ? repo : this.#ref.repository;
    return { status: `Pulling from ${shown}`, id: this.#ref.digest ?? this.#ref.tag ?? "latest" };
  }

  of(e: PullEvent): JsonMessage[] {
    switch (e.type) {
      case "start":
        return [];
      case "warning":
        return [{ status: `WARNING: ${e.message}` }];
      case "digest":
        return [{ status: `Digest: ${e.digest}` }];
      case "layer": {
        const out: JsonMessage[] = [];
        const before = this.#seen.get(e.id);
        if (e.status === "downloading") {
          if (before === undefined || before === "waiting") out.push({ status: "Pulling fs layer", progressDetail: {}, id: e.id });
          this.#seen.set(e.id, "downloading");
          const current = e.current ?? 0;
          const total = e.total ?? 0;
          out.push({ status: "Downloading", progressDetail: { current, total }, progress: progressBar(current, total), id: e.id });
          return out;
        }
        if (before === e.status) return [];
        this.#seen.set(e.id, e.status);
        if (e.status === "verifying") return [{ status: "Verifying Checksum", progressDetail: {}, id: e.id }, { status: "Download complete", progressDetail: {}, id: e.id }];
        return [{ status: LAYER_STATUS[e.status], progressDetail: {}, id: e.id }];
      }
    }
  }

  footer(downloaded: boolean): JsonMessage {
    const name = familiarString(this.#ref);
    return { status: downloaded ? `Status: Downloaded newer image for ${name}` : `Status: Image is up to date for ${name}` };
  }
}

export function pushMessage(e: PushEvent): JsonMessage {
  if (e.type === "start") return { status: `The push refers to repository [${e.repository}]` };
  return { status: e.status, progressDetail: {}, id: e.id };
}
