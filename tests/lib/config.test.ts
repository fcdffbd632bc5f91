/** User settings: a missing file means the schema's defaults. */
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultConfig, loadConfig, parseConfig } from "../../lib/config.ts";

test("the defaults of a missing file are the schema's", () => {
  expect(defaultConfig()).toEqual(parseConfig({}));
  const dir = mkdtempSync(join(tmpdir(), "skiff-config-"));
  try {
    expect(loadConfig(dir)).toEqual(parseConfig({}));
    writeFileSync(join(dir, "config.json"), JSON.stringify({ runtime: "crun", maxConcurrentDownloads: 5 }));
    expect(loadConfig(dir)).toEqual({ insecureRegistries: [], runtime: "crun", maxConcurrentDownloads: 5 });
    writeFileSync(join(dir, "config.json"), JSON.stringify({ maxConcurrentDownloads: 0 }));
    expect(() => loadConfig(dir)).toThrow(/config\.json/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
