/**
 * `skiff __ns <op> <json>`: the child side of UserNamespaceExecutor. Runs as
 * root of the user namespace; reports warnings and the outcome as JSON lines
 * on stdout (see NsMessage).
 */
import { rmSync } from "node:fs";
import { toSkiffError } from "../lib/errors.ts";
import type { PendingFixups } from "../lib/layers/pending.ts";
import type { NsMessage } from "./nsexec.ts";

function send(msg: NsMessage): void {
  process.stdout.write(`${JSON.stringify(msg)}\n`);
}

/**
 * Splits stdin into its first line (the job) and the bytes after it (a
 * layer stream for unpack), without losing what was read past the newline.
 */
async function readJob(): Promise<{ job: { op: string; args: Record<string, unknown> }; rest: ReadableStream<Uint8Array> }> {
  const reader = Bun.stdin.stream().getReader();
  let head = new Uint8Array(0);
  for (;;) {
    const { done, value } = await reader.read();
    if (done) throw new Error("no job on stdin");
    const merged = new Uint8Array(head.length + value.length);
    merged.set(head, 0);
    merged.set(value, head.length);
    const nl = merged.indexOf(10);
    if (nl < 0) {
      head = merged;
      continue;
    }
    const job = JSON.parse(new TextDecoder().decode(merged.subarray(0, nl))) as { op: string; args: Record<string, unknown> };
    let left: Uint8Array | undefined = merged.subarray(nl + 1);
    const rest = new ReadableStream<Uint8Array>({
      async pull(ctrl) {
        if (left && left.length > 0) {
          ctrl.enqueue(left);
          left = undefined;
          return;
        }
        left = undefined;
        const r = await reader.read();
        if (r.done) ctrl.close();
        else ctrl.enqueue(r.value);
      },
      cancel() {
        void reader.cancel();
      },
    });
    return { job, rest };
  }
}

export async function nsHelperMain(argv: string[]): Promise<number> {
  let [op, json] = argv;
  let input: ReadableStream<Uint8Array> | undefined;
  try {
    if (op === "stdin") {
      const { job, rest } = await readJob();
      op = job.op;
      json = JSON.stringify(job.args);
      input = rest;
    }
    const args = JSON.parse(json ?? "{}") as Record<string, unknown>;
    switch (op) {
      case "unpack": {
        const { unpackLayer } = await import("../lib/layers/unpack.ts");
        const result = await unpackLayer(input ?? Bun.stdin.stream(), {
          dest: String(args.dest),
          compression: (args.compression as "gzip" | "zstd" | "none" | "auto" | undefined) ?? "auto",
          maxId: Number(args.maxId),
          ...(typeof args.layer === "string" ? { layer: args.layer } : {}),
          onWarning: (warning) => send({ warning }),
        });
        send({ ok: true, result });
        return 0;
      }
      case "fixup": {
        const { applyPending } = await import("../lib/layers/pending.ts");
        applyPending(String(args.dest), args.lowers as string[], args.pending as PendingFixups);
        send({ ok: true });
        return 0;
      }
      case "remove": {
        for (const p of args.paths as string[]) rmSync(p, { recursive: true, force: true });
        send({ ok: true });
        return 0;
      }
      case "copyup": {
        const { copyUp } = await import("../lib/volumes/copyup.ts");
        const result = copyUp(args as unknown as import("../lib/volumes/copyup.ts").CopyUpRequest, {
          chown: true,
          onWarning: (warning) => send({ warning }),
        });
        send({ ok: true, result });
        return 0;
      }
      case "changes": {
        const { changesOf } = await import("../lib/containers/upper-changes.ts");
        send({ ok: true, result: changesOf(args as unknown as import("../lib/containers/upper-changes.ts").ChangesRequest) });
        return 0;
      }
      case "cp": {
        // Data on stdin/stdout, messages on stderr (lib/containers/cp-helper.ts).
        const { cpHelperMain } = await import("../lib/containers/cp-helper.ts");
        return await cpHelperMain(args as unknown as import("../lib/containers/cp-helper.ts").CpHelperRequest);
      }
      case "commit-layer": {
        // Data on stdout, the outcome on stderr (lib/images/commit-layer.ts).
        const { commitLayerMain } = await import("../lib/images/commit-layer.ts");
        return commitLayerMain(args as { upper: string; lowers?: string[] });
      }
      case "exec": {
        // Interactive: stdio belongs to the command, so no JSON messages.
        const child = Bun.spawn(args.argv as string[], { stdin: "inherit", stdout: "inherit", stderr: "inherit" });
        return await child.exited;
      }
      default:
        send({ ok: false, kind: "InvalidArgument", message: `unknown namespace helper operation ${op}` });
        return 125;
    }
  } catch (e) {
    const err = toSkiffError(e);
    send({ ok: false, kind: err.kind, message: err.message });
    return 1;
  }
}
