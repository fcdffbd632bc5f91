import { describe, expect, test } from "bun:test";
import { mergeBindings, parsePublish, publishAll, reservePorts } from "../../../lib/network/publish.ts";

describe("parsePublish", () => {
  test("Docker's forms", () => {
    expect(parsePublish("8080:80")).toEqual([{ containerPort: 80, protocol: "tcp", hostIp: "0.0.0.0", hostPort: 8080 }]);
    expect(parsePublish("127.0.0.1:8080:80")).toEqual([{ containerPort: 80, protocol: "tcp", hostIp: "127.0.0.1", hostPort: 8080 }]);
    expect(parsePublish("127.0.0.1::80")).toEqual([{ containerPort: 80, protocol: "tcp", hostIp: "127.0.0.1", hostPort: 0 }]);
    expect(parsePublish("80")).toEqual([{ containerPort: 80, protocol: "tcp", hostIp: "0.0.0.0", hostPort: 0 }]);
    expect(parsePublish("53:53/udp")).toEqual([{ containerPort: 53, protocol: "udp", hostIp: "0.0.0.0", hostPort: 53 }]);
    expect(parsePublish("[::1]:8080:80")).toEqual([{ containerPort: 80, protocol: "tcp", hostIp: "::1", hostPort: 8080 }]);
  });

  test("ranges expand pairwise", () => {
    expect(parsePublish("8000-8002:80-82").map((b) => [b.hostPort, b.containerPort])).toEqual([
      [8000, 80],
      [8001, 81],
      [8002, 82],
    ]);
    expect(parsePublish("80-81").map((b) => b.hostPort)).toEqual([0, 0]);
  });

  test("bad specs are one-line InvalidArgument errors", () => {
    for (const bad of ["", "abc", "8080:", "70000:80", "80/icmp", "1:2:3:4", "8000-8002:80-81", "[::1:80", "90-80"]) {
      expect(() => parsePublish(bad)).toThrow(/invalid publish spec/);
    }
  });
});

test("publishAll takes EXPOSE'd ports", () => {
  expect(publishAll({ "80/tcp": {}, "53/udp": {}, bogus: {} })).toEqual([
    { containerPort: 80, protocol: "tcp", hostIp: "0.0.0.0", hostPort: 0 },
    { containerPort: 53, protocol: "udp", hostIp: "0.0.0.0", hostPort: 0 },
  ]);
  expect(publishAll(undefined)).toEqual([]);
});

test("a host port published twice is refused", () => {
  expect(() => mergeBindings([...parsePublish("8080:80"), ...parsePublish("8080:81")])).toThrow(/published twice/);
  expect(mergeBindings([...parsePublish("80"), ...parsePublish("81")])).toHaveLength(2);
});

describe("reservePorts", () => {
  test("picks free ports for port 0", async () => {
    const [b] = await reservePorts(parsePublish("127.0.0.1::80"));
    expect(b?.hostPort).toBeGreaterThan(0);
  });

  test("a port in use is a Conflict naming the port", async () => {
    const srv = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    try {
      await expect(reservePorts(parsePublish(`127.0.0.1:${srv.port}:80`))).rejects.toThrow(`127.0.0.1:${srv.port} failed: port is already allocated`);
    } finally {
      srv.stop(true);
    }
  });
});
