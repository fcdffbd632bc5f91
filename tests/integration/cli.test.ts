/**
 * The CLI's own surface, through the compiled binary: version in each form
 * (main answers the plain ones before the parser loads; the rest go through
 * it) and help.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { binaryMissingReason, makeSkiffEnv } from "../helpers/skiff.ts";

const skip = binaryMissingReason();

describe.skipIf(skip !== undefined)("cli", () => {
  const env = makeSkiffEnv("cli");
  afterAll(async () => {
    await env.cleanup();
  });

  test("version prints the client's build facts", async () => {
    const out = await env.ok(["version"]);
    expect(out).toMatch(/^Version: +\d+\.\d+\.\d+/m);
    expect(out).toMatch(/^API Version: +1\.\d+$/m);
    expect(out).toMatch(/^OS\/Arch: +linux\/\w+$/m);
  });

  test("version --format json, -f and --format= agree, and a template picks a field", async () => {
    const json = JSON.parse(await env.ok(["version", "--format", "json"])) as { Client: { Version: string; Os: string } };
    expect(json.Client.Os).toBe("linux");
    expect(JSON.parse(await env.ok(["version", "-f", "json"]))).toEqual(json);
    expect(JSON.parse(await env.ok(["version", "--format=json"]))).toEqual(json);
    expect((await env.ok(["version", "--format", "{{.Client.Version}}"])).trim()).toBe(json.Client.Version);
    expect((await env.ok(["--version"])).trim()).toBe(json.Client.Version);
    expect((await env.ok(["-v"])).trim()).toBe(json.Client.Version);
  });

  test("a bad template or an unknown flag is one line and code 125", async () => {
    for (const args of [["version", "--format", "{{.Client"], ["version", "--bogus"], ["version", "-f"]]) {
      const r = await env.run(args);
      expect(r.code).toBe(125);
      expect(r.stdout).toBe("");
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toMatch(/^Error: /);
    }
  });

  test("help lists the verbs; a verb's help lists its flags", async () => {
    expect(await env.ok(["--help"])).toMatch(/^ +run \[options\]/m);
    const runHelp = await env.ok(["run", "--help"]);
    expect(runHelp).toContain("--publish");
    expect(await env.ok(["version", "--help"])).toContain("--format");
  });
});
