import { describe, expect, test } from "bun:test";
import { isSkiffError } from "../../../lib/errors.ts";
import {
  familiarString,
  formatReference,
  isLoopbackRegistry,
  isValidTag,
  parseReference,
  registryHostname,
  repositoryName,
  withDigest,
  withTag,
} from "../../../lib/registry/reference.ts";

const D = `sha256:${"a".repeat(64)}`;
const D2 = `sha256:${"b".repeat(64)}`;

describe("parseReference: normalisation", () => {
  const cases: [string, string, string, string | undefined, string | undefined][] = [
    // input, registry, repository, tag, digest
    ["busybox", "docker.io", "library/busybox", "latest", undefined],
    ["busybox:1.36", "docker.io", "library/busybox", "1.36", undefined],
    ["library/busybox", "docker.io", "library/busybox", "latest", undefined],
    ["docker.io/busybox", "docker.io", "library/busybox", "latest", undefined],
    ["docker.io/library/busybox:latest", "docker.io", "library/busybox", "latest", undefined],
    ["index.docker.io/busybox", "docker.io", "library/busybox", "latest", undefined],
    ["index.docker.io/library/busybox:musl", "docker.io", "library/busybox", "musl", undefined],
    ["user/app", "docker.io", "user/app", "latest", undefined],
    ["user/app:1", "docker.io", "user/app", "1", undefined],
    ["user/app/sub:v2", "docker.io", "user/app/sub", "v2", undefined],
    ["localhost/foo", "localhost", "foo", "latest", undefined],
    ["localhost:5000/foo/bar:1", "localhost:5000", "foo/bar", "1", undefined],
    ["127.0.0.1:5000/a/b:tag", "127.0.0.1:5000", "a/b", "tag", undefined],
    ["example.com/foo", "example.com", "foo", "latest", undefined],
    ["example.com:443/foo/bar", "example.com:443", "foo/bar", "latest", undefined],
    ["[::1]:5000/foo", "[::1]:5000", "foo", "latest", undefined],
    ["[2001:db8::1]/foo:x", "[2001:db8::1]", "foo", "x", undefined],
    ["quay.io/org/repo:v1.0-rc_1", "quay.io", "org/repo", "v1.0-rc_1", undefined],
    ["sub-domain.example.com/a_b/c__d/e-f/g.h", "sub-domain.example.com", "a_b/c__d/e-f/g.h", "latest", undefined],
    ["foo--bar", "docker.io", "library/foo--bar", "latest", undefined],
    ["localhost:5000", "docker.io", "library/localhost", "5000", undefined],
    ["foo:bar", "docker.io", "library/foo", "bar", undefined],
    [`busybox@${D}`, "docker.io", "library/busybox", undefined, D],
    [`busybox:1@${D}`, "docker.io", "library/busybox", "1", D],
    [`127.0.0.1:5000/a/b@${D}`, "127.0.0.1:5000", "a/b", undefined, D],
    [`127.0.0.1:5000/a/b:t@${D}`, "127.0.0.1:5000", "a/b", "t", D],
    ["Registry.Example.com/foo", "Registry.Example.com", "foo", "latest", undefined],
    ["Docker/foo", "Docker", "foo", "latest", undefined],
    ["a/b/c/d/e/f", "docker.io", "a/b/c/d/e/f", "latest", undefined],
    [`x:${"t".repeat(128)}`, "docker.io", "library/x", "t".repeat(128), undefined],
    ["x:_underscore", "docker.io", "library/x", "_underscore", undefined],
  ];
  for (const [input, registry, repository, tag, digest] of cases) {
    test(input.length > 60 ? `${input.slice(0, 60)}…` : input, () => {
      const r = parseReference(input);
      expect(r.registry).toBe(registry);
      expect(r.repository).toBe(repository);
      expect(r.tag).toBe(tag);
      expect(r.digest).toBe(digest as never);
    });
  }

  test("defaultTag: false leaves the tag out", () => {
    expect(parseReference("busybox", { defaultTag: false })).toEqual({ registry: "docker.io", repository: "library/busybox" });
  });

  test("no fields set to undefined (toEqual-friendly records)", () => {
    expect(parseReference(`a/b@${D}`)).toEqual({ registry: "docker.io", repository: "a/b", digest: D as never });
  });
});

describe("parseReference: rejects bad input", () => {
  const bad: [string, RegExp][] = [
    ["", /empty/],
    ["Busybox", /must be lowercase/],
    ["docker.io/Busybox", /must be lowercase/],
    ["example.com/Foo/bar", /must be lowercase/],
    ["busybox:", /invalid tag/],
    ["busybox:-x", /invalid tag/],
    ["busybox:.x", /invalid tag/],
    [`busybox:${"t".repeat(129)}`, /tag is longer than 128/],
    ["busybox@sha256:abc", /invalid digest/],
    ["busybox@", /invalid digest/],
    [`busybox@sha256:${"A".repeat(64)}`, /invalid digest/],
    [`busybox@md5:${"a".repeat(32)}`, /invalid digest/],
    ["a".repeat(64).replace(/a/g, "f"), /image id/],
    ["foo/", /empty path component/],
    ["/foo", /empty path component/],
    ["foo//bar", /empty path component/],
    ["-foo", /invalid repository name component/],
    ["foo_", /invalid repository name component/],
    ["foo___bar", /invalid repository name component/],
    ["foo..bar", /invalid repository name component/],
    ["foo bar", /whitespace/],
    [" busybox", /whitespace/],
    ["foo:bar:baz", /invalid repository name component/],
    ["example.com:port/foo", /invalid registry/],
    ["-bad.example.com/foo", /invalid registry/],
    ["localhost:5000/", /repository name is empty/],
    [":tag", /repository name is empty/],
    [`example.com/${"a".repeat(250)}`, /longer than 255/],
    ["ex@mple/foo", /invalid digest/],
  ];
  for (const [input, re] of bad) {
    test(JSON.stringify(input.length > 50 ? `${input.slice(0, 50)}…` : input), () => {
      let err: unknown;
      try {
        parseReference(input);
      } catch (e) {
        err = e;
      }
      expect(isSkiffError(err, "InvalidArgument")).toBe(true);
      const msg = (err as Error).message;
      expect(msg).toMatch(re);
      expect(msg).toStartWith("invalid reference ");
      expect(msg).not.toContain("\n");
      expect(msg.endsWith(".")).toBe(false);
    });
  }

  test("name length counts the normalised name (255 max)", () => {
    // docker.io/library/ is 18 characters: 237 more fit.
    expect(parseReference("a".repeat(237)).repository).toBe(`library/${"a".repeat(237)}`);
    expect(() => parseReference("a".repeat(238))).toThrow(/longer than 255/);
  });
});

describe("formatting", () => {
  test("formatReference is fully qualified", () => {
    expect(formatReference(parseReference("busybox"))).toBe("docker.io/library/busybox:latest");
    expect(formatReference(parseReference(`busybox@${D}`))).toBe(`docker.io/library/busybox@${D}`);
    expect(formatReference(parseReference(`busybox:1@${D}`))).toBe(`docker.io/library/busybox:1@${D}`);
    expect(formatReference(parseReference("localhost:5000/x", { defaultTag: false }))).toBe("localhost:5000/x");
  });

  test("repositoryName", () => {
    expect(repositoryName(parseReference("busybox"))).toBe("docker.io/library/busybox");
    expect(repositoryName({ registry: "127.0.0.1:5000", repository: "a/b" })).toBe("127.0.0.1:5000/a/b");
  });

  test("familiarString is Docker's short form", () => {
    expect(familiarString(parseReference("docker.io/library/busybox:latest"))).toBe("busybox:latest");
    expect(familiarString(parseReference("user/x:1"))).toBe("user/x:1");
    expect(familiarString(parseReference("library/a/b"))).toBe("library/a/b:latest");
    expect(familiarString(parseReference("quay.io/org/x:1"))).toBe("quay.io/org/x:1");
    expect(familiarString(parseReference("127.0.0.1:5000/library/x:1"))).toBe("127.0.0.1:5000/library/x:1");
    expect(familiarString(parseReference(`busybox@${D}`))).toBe(`busybox@${D}`);
  });

  test("parse(format(r)) round-trips", () => {
    for (const input of ["busybox", "user/x:1", `a.io:5000/b/c:d@${D}`, "[::1]:5000/foo"]) {
      const r = parseReference(input);
      expect(parseReference(formatReference(r))).toEqual(r);
      expect(parseReference(familiarString(r))).toEqual(r);
    }
  });

  test("withTag and withDigest keep the other part, as Docker does", () => {
    const r = parseReference("busybox:1");
    expect(formatReference(withTag(r, "2"))).toBe("docker.io/library/busybox:2");
    expect(formatReference(withDigest(r, D))).toBe(`docker.io/library/busybox:1@${D}`);
    expect(formatReference(withTag(withDigest(r, D), "3"))).toBe(`docker.io/library/busybox:3@${D}`);
    expect(formatReference(withDigest(withDigest(r, D), D2))).toBe(`docker.io/library/busybox:1@${D2}`);
    expect(() => withTag(r, "bad tag")).toThrow(/invalid tag/);
    expect(() => withDigest(r, "sha256:zz")).toThrow(/invalid digest/);
  });

  test("isValidTag", () => {
    expect(isValidTag("latest")).toBe(true);
    expect(isValidTag("1.0_rc-2")).toBe(true);
    expect(isValidTag("")).toBe(false);
    expect(isValidTag("-x")).toBe(false);
    expect(isValidTag("a/b")).toBe(false);
  });
});

describe("isLoopbackRegistry", () => {
  const yes = ["localhost", "localhost:5000", "LOCALHOST:1", "127.0.0.1", "127.0.0.1:5000", "127.1.2.3:80", "[::1]:5000", "[::1]", "::1"];
  const no = ["docker.io", "128.0.0.1", "127.0.0.256", "127.0.0", "localhost.example.com", "127.0.0.1.nip.io:80", "[::2]:5000", "10.0.0.1:5000"];
  for (const r of yes) test(`${r} is loopback`, () => expect(isLoopbackRegistry(r)).toBe(true));
  for (const r of no) test(`${r} is not loopback`, () => expect(isLoopbackRegistry(r)).toBe(false));

  test("registryHostname strips the port", () => {
    expect(registryHostname("a.b:5000")).toBe("a.b");
    expect(registryHostname("[::1]:5000")).toBe("::1");
    expect(registryHostname("::1")).toBe("::1");
    expect(registryHostname("docker.io")).toBe("docker.io");
  });
});
