/**
 * Pull and push progress: a bar per layer on a terminal (cli-progress), the
 * plain lines Docker prints otherwise, nothing when quiet.
 */
import type { PullEvent, LayerStatus } from "../images/pull.ts";
import { humanSize } from "./render.ts";

export interface ProgressSink {
  event(e: PullEvent): void;
  done(): void;
}

const PLAIN_STATUS: Partial<Record<LayerStatus, string>> = {
  waiting: "Waiting",
  exists: "Already exists",
  downloading: "Pulling fs layer",
  verifying: "Download complete",
  done: "Pull complete",
};

class PlainProgress implements ProgressSink {
  readonly #seen = new Map<string, LayerStatus>();
  readonly #out: (s: string) => void;

  constructor(out: (s: string) => void) {
    this.#out = out;
  }

  event(e: PullEvent): void {
    if (e.type === "warning") {
      process.stderr.write(`WARNING: ${e.message}\n`);
      return;
    }
    if (e.type === "digest") {
      this.#out(`Digest: ${e.digest}\n`);
      return;
    }
    if (e.type !== "layer") return;
    if (this.#seen.get(e.id) === e.status) return;
    this.#seen.set(e.id, e.status);
    const text = PLAIN_STATUS[e.status];
    if (text) this.#out(`${e.id}: ${text}\n`);
  }

  done(): void {}
}

class BarProgress implements ProgressSink {
  readonly #bars = new Map<string, import("cli-progress").SingleBar>();
  readonly #multi: import("cli-progress").MultiBar;

  constructor(mod: typeof import("cli-progress")) {
    this.#multi = new mod.MultiBar(
      {
        format: "{id}: {status} {bar} {size}",
        barCompleteChar: "=",
        barIncompleteChar: " ",
        barsize: 40,
        hideCursor: true,
        clearOnComplete: false,
        stopOnComplete: false,
        stream: process.stderr,
        autopadding: true,
        forceRedraw: false,
      },
      mod.Presets.legacy,
    );
  }

  event(e: PullEvent): void {
    if (e.type === "warning") {
      this.#multi.log(`WARNING: ${e.message}\n`);
      return;
    }
    if (e.type !== "layer") return;
    let bar = this.#bars.get(e.id);
    const total = e.total ?? 1;
    if (!bar) {
      bar = this.#multi.create(total, 0, { id: e.id, status: "Waiting", size: "" });
      this.#bars.set(e.id, bar);
    }
    const label: Record<LayerStatus, string> = {
      waiting: "Waiting         ",
      exists: "Already exists  ",
      downloading: "Downloading     ",
      extracting: "Extracting      ",
      verifying: "Verifying       ",
      done: "Pull complete   ",
    };
    if (e.total !== undefined) bar.setTotal(e.total);
    const size = e.total !== undefined ? `${humanSize(e.current ?? 0)}/${humanSize(e.total)}` : "";
    if (e.status === "done" || e.status === "exists") bar.update(bar.getTotal(), { status: label[e.status], size: "" });
    else bar.update(e.current ?? 0, { status: label[e.status], size });
  }

  done(): void {
    this.#multi.stop();
  }
}

export async function progressFor(opts: { quiet?: boolean; out?: (s: string) => void }): Promise<ProgressSink> {
  if (opts.quiet) {
    // Quiet hides progress, never warnings.
    return {
      event: (e) => {
        if (e.type === "warning") process.stderr.write(`WARNING: ${e.message}\n`);
      },
      done: () => {},
    };
  }
  const out = opts.out ?? ((s: string) => process.stdout.write(s));
  if (process.stderr.isTTY && process.env.TERM !== "dumb") {
    const mod = await import("cli-progress");
    return new BarProgress(mod);
  }
  return new PlainProgress(out);
}
