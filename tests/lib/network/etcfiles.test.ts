import { describe, expect, test } from "bun:test";
import { hostsFile, parseAddHost, parseResolvConf, resolvConfFile } from "../../../lib/network/etcfiles.ts";
import { pastaPortArgs, pastaPlan, slirpForward } from "../../../lib/network/plan.ts";

describe("hosts", () => {
  test("localhost lines, extra hosts, then the container's own name", () => {
    const text = hostsFile({ hostname: "abc", addresses: [], extra: [{ host: "db", ip: "10.0.0.5" }], aliases: ["web"] });
    const lines = text.trim().split("\n");
    expect(lines[0]).toBe("127.0.0.1\tlocalhost");
    expect(lines).toContain("10.0.0.5\tdb");
    expect(lines[lines.length - 1]).toBe("127.0.1.1\tabc web");
  });

  test("--add-host forms", () => {
    expect(parseAddHost("db:10.0.0.5")).toEqual({ host: "db", ip: "10.0.0.5" });
    expect(parseAddHost("db=::1")).toEqual({ host: "db", ip: "::1" });
    expect(parseAddHost("gw:host-gateway", "192.0.2.1")).toEqual({ host: "gw", ip: "192.0.2.1" });
    expect(() => parseAddHost("gw:host-gateway")).toThrow(/host-gateway/);
    expect(() => parseAddHost("nocolon")).toThrow(/--add-host/);
    expect(() => parseAddHost("db:not-an-ip")).toThrow(/invalid IP/);
  });
});

describe("resolv.conf", () => {
  const host = parseResolvConf("# generated\nnameserver 127.0.0.53\nnameserver 10.1.1.1\nsearch corp.example\noptions edns0 trust-ad\n");

  test("loopback resolvers are replaced by the forwarder", () => {
    expect(resolvConfFile({ host, forwarder: "169.254.1.1" })).toBe("search corp.example\nnameserver 169.254.1.1\noptions edns0\n");
  });

  test("without a forwarder, loopback resolvers are dropped", () => {
    expect(resolvConfFile({ host })).toBe("search corp.example\nnameserver 10.1.1.1\noptions edns0\n");
  });

  test("--dns, --dns-search and --dns-option win", () => {
    expect(resolvConfFile({ host, dns: ["1.1.1.1"], dnsSearch: ["a.example"], dnsOptions: ["ndots:2"], forwarder: "169.254.1.1" })).toBe(
      "search a.example\nnameserver 1.1.1.1\noptions ndots:2\n",
    );
  });
});

describe("helper argv", () => {
  test("pasta forwards nothing unless asked", () => {
    expect(pastaPortArgs([])).toEqual(["-t", "none", "-u", "none", "-T", "none", "-U", "none"]);
    expect(
      pastaPortArgs([
        { containerPort: 80, protocol: "tcp", hostIp: "0.0.0.0", hostPort: 8080 },
        { containerPort: 81, protocol: "tcp", hostIp: "127.0.0.1", hostPort: 8081 },
        { containerPort: 53, protocol: "udp", hostIp: "0.0.0.0", hostPort: 5353 },
      ]),
    ).toEqual(["-t", "8080:80,127.0.0.1/8081:81", "-u", "5353:53", "-T", "none", "-U", "none"]);
  });

  test("pasta joins the namespace file without its user namespace", () => {
    const plan = pastaPlan({ pasta: "/usr/bin/pasta", runDir: "/run/x", ports: [] });
    expect(plan.mode).toBe("pasta");
    if (plan.mode !== "pasta") return;
    expect(plan.argv).toContain("--netns-only");
    expect(plan.argv.slice(plan.argv.indexOf("--netns"), plan.argv.indexOf("--netns") + 2)).toEqual(["--netns", "/run/x/netns"]);
  });

  test("slirp4netns forwards through its API", () => {
    expect(JSON.parse(slirpForward({ containerPort: 80, protocol: "tcp", hostIp: "0.0.0.0", hostPort: 8080 }))).toEqual({
      execute: "add_hostfwd",
      arguments: { proto: "tcp", host_addr: "0.0.0.0", host_port: 8080, guest_port: 80 },
    });
  });
});
