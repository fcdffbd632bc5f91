import { describe, expect, test } from "bun:test";
import { clientVersion, plainVersionArgs, renderVersion } from "../../../lib/cli/version-info.ts";

describe("plainVersionArgs", () => {
  test("takes only the plain forms", () => {
    expect(plainVersionArgs([])).toEqual({});
    expect(plainVersionArgs(["--format", "json"])).toEqual({ format: "json" });
    expect(plainVersionArgs(["-f", "{{.Client.Version}}"])).toEqual({ format: "{{.Client.Version}}" });
    expect(plainVersionArgs(["--format=json"])).toEqual({ format: "json" });
  });

  test("leaves everything else to the parser", () => {
    for (const args of [["--help"], ["-f"], ["--format"], ["-f", "--help"], ["--bogus"], ["-f", "json", "extra"], ["x"]]) {
      expect(plainVersionArgs(args)).toBeUndefined();
    }
  });
});

describe("renderVersion", () => {
  test("text, json and templates", async () => {
    const c = clientVersion();
    expect(await renderVersion(undefined)).toContain(`Version:      ${c.Version}\n`);
    expect(JSON.parse(await renderVersion("json"))).toEqual({ Client: c });
    expect((await renderVersion("{{.Client.Os}}")).trim()).toBe("linux");
  });

  test("a bad template rejects", async () => {
    await expect(renderVersion("{{.Client")).rejects.toThrow();
  });
});
