/** The skiff that generated units run: this very binary, by absolute path (bun + script in development). */
import { resolve } from "node:path";
import { selfCommand } from "../../runtime/userns.ts";

export function skiffForUnits(): string[] {
  return selfCommand().map((p, i) => (i === 0 || p.endsWith(".ts") ? resolve(p) : p));
}
