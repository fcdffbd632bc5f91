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

export async function nsHelperMain(argv: string[]): Promise<number> {
  const [op, json] = argv;
  try {
    const args = JSON.parse(json ?? "{}") as Record<string, unknown>;
    switch (op) {
      case "unpack": {
        const { unpackLayer } = await import("../lib/layers/unpack.ts");
        const result = await unpackLayer(Bun.stdin.stream(), {
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
