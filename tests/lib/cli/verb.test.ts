/** Finding the verb and the --network flag in raw argv, before the CLI parser loads. */
import { describe, expect, test } from "bun:test";
import { findVerb, networkFlag, ownsNetworkNamespace } from "../../../lib/cli/verb.ts";

describe("findVerb", () => {
  test("skips global options and their values", () => {
    expect(findVerb(["run", "busybox"])).toBe("run");
    expect(findVerb(["--root", "/x", "--storage-driver", "copy", "run", "busybox"])).toBe("run");
    expect(findVerb(["--log-level=debug", "ps"])).toBe("ps");
    expect(findVerb(["--", "run"])).toBe("run");
    expect(findVerb(["--root"])).toBeUndefined();
  });
});

describe("networkFlag", () => {
  test("both spellings, with a space or an equals sign", () => {
    expect(networkFlag(["run", "--network", "none", "busybox"])).toBe("none");
    expect(networkFlag(["run", "--net=host", "busybox"])).toBe("host");
    expect(networkFlag(["run", "--network=container:web", "busybox"])).toBe("container:web");
    expect(networkFlag(["run", "-d", "busybox"])).toBeUndefined();
    expect(networkFlag(["run", "--network"])).toBeUndefined();
  });

  test("the first one counts", () => {
    expect(networkFlag(["run", "--network", "app", "--network", "none", "busybox"])).toBe("app");
  });
});

describe("ownsNetworkNamespace", () => {
  test("none, host and container: share or skip one; everything else gets its own", () => {
    for (const m of ["none", "host", "container:web"]) expect(ownsNetworkNamespace(m)).toBe(false);
    for (const m of [undefined, "pasta", "slirp4netns", "bridge", "app"]) expect(ownsNetworkNamespace(m)).toBe(true);
  });
});
