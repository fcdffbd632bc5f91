/** An API app over an empty, private store, driven in-process with app.request (no socket). */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Context } from "../../../lib/context.ts";
import { createApp } from "../../../lib/api/app.ts";
import { ApiState } from "../../../lib/api/state.ts";

export interface TestApi {
  app: ReturnType<typeof createApp>;
  state: ApiState;
  dir: string;
  close(): void;
}

export function testApi(): TestApi {
  const dir = mkdtempSync(join(tmpdir(), "skiff-api-unit-"));
  const ctx = new Context({ root: join(dir, "root"), runroot: join(dir, "run") });
  const state = new ApiState(ctx);
  const app = createApp(state);
  return {
    app,
    state,
    dir,
    close() {
      state.shutdown();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function json(res: Response): Promise<Record<string, unknown>> {
  return (await res.json()) as Record<string, unknown>;
}
