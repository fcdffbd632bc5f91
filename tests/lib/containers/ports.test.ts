import { describe, expect, test } from "bun:test";
import { formatPorts, joinHostPort, naturalCompare, parsePortSpec, type PortBinding } from "../../../lib/containers/ports.ts";

const BINDINGS: PortBinding[] = [
  { containerPort: 80, protocol: "tcp", hostIp: "0.0.0.0", hostPort: 8080 },
  { containerPort: 80, protocol: "tcp", hostIp: "::", hostPort: 8080 },
  { containerPort: 443, protocol: "tcp", hostIp: "127.0.0.1", hostPort: 8443 },
  { containerPort: 53, protocol: "udp", hostIp: "0.0.0.0", hostPort: 5353 },
  { containerPort: 9, protocol: "tcp", hostIp: "0.0.0.0", hostPort: 10009 },
];

describe("formatPorts", () => {
  test("every binding, naturally sorted, as docker port prints them", () => {
    expect(formatPorts(BINDINGS, {})).toEqual([
      "9/tcp -> 0.0.0.0:10009",
      "53/udp -> 0.0.0.0:5353",
      "80/tcp -> 0.0.0.0:8080",
      "80/tcp -> [::]:8080",
      "443/tcp -> 127.0.0.1:8443",
    ]);
  });

  test("one private port: its host addresses (tcp by default)", () => {
    expect(formatPorts(BINDINGS, { port: "80" })).toEqual(["0.0.0.0:8080", "[::]:8080"]);
    expect(formatPorts(BINDINGS, { port: "53/udp" })).toEqual(["0.0.0.0:5353"]);
  });

  test("a port that is not published is an error naming the container", () => {
    expect(() => formatPorts(BINDINGS, { port: "53", container: "web" })).toThrow("no public port '53' published for web");
    expect(() => formatPorts([], { port: "80/tcp", container: "web" })).toThrow("no public port '80/tcp' published for web");
  });

  test("no bindings: nothing", () => {
    expect(formatPorts([], {})).toEqual([]);
  });

  test("invalid port", () => {
    expect(() => parsePortSpec("http")).toThrow("invalid port (http)");
    expect(() => parsePortSpec("70000")).toThrow(/invalid port/);
    expect(parsePortSpec("53/UDP")).toEqual({ port: 53, protocol: "udp" });
  });
});

describe("helpers", () => {
  test("joinHostPort brackets IPv6", () => {
    expect(joinHostPort("::1", 80)).toBe("[::1]:80");
    expect(joinHostPort("10.0.0.1", 80)).toBe("10.0.0.1:80");
    expect(joinHostPort("", 80)).toBe(":80");
  });

  test("naturalCompare orders digit runs numerically", () => {
    expect(["10/tcp", "9/tcp", "100/tcp", "9/udp"].sort(naturalCompare)).toEqual(["9/tcp", "9/udp", "10/tcp", "100/tcp"]);
  });
});


