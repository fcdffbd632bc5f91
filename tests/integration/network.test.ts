/**
 * Networking through the skiff CLI, end to end, as root and rootless:
 * published ports (a busybox httpd answers on 127.0.0.1), a port in use
 * refused before the container runs, user networks with resolution by name
 * and alias, --network none|host|container:, and the generated /etc files.
 * Only loopback and namespaces the containers make are used.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { containerFixture, containerSkipReason, leftovers, until, type ContainerFixture } from "../helpers/containers.ts";

const skip = containerSkipReason();
if (skip) console.warn(`skipping network tests: ${skip}`);

let fx: ContainerFixture;

const slirp = Bun.which("slirp4netns");

/** A port nobody listens on now (the kernel's pick, released). */
function freePort(): number {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = s.port;
  s.stop(true);
  return port;
}

/** The body served at `url`, once something answers there (undefined if nothing does in time). */
async function fetchWhenUp(url: string, ms = 10_000): Promise<string | undefined> {
  return await until(
    async () => {
      try {
        const r = await fetch(url);
        return r.ok ? await r.text() : undefined;
      } catch {
        return undefined;
      }
    },
    ms,
    100,
  );
}

const HTTPD = (text: string): string[] => ["sh", "-c", `mkdir -p /www && echo ${text} > /www/index.html && exec httpd -f -p 80 -h /www`];

/** Network interfaces a container sees (its namespace's /proc/net/dev). */
function interfaces(procNetDev: string): string[] {
  return procNetDev
    .split("\n")
    .slice(2)
    .map((l) => l.split(":")[0]?.trim() ?? "")
    .filter((n) => n.length > 0)
    .sort();
}

describe.skipIf(skip !== undefined)("network", () => {
  beforeAll(async () => {
    fx = await containerFixture("network");
  }, 120_000);

  afterAll(async () => {
    await fx?.close();
  }, 60_000);

  test("-p publishes a port: httpd answers on 127.0.0.1; port and inspect show the binding", async () => {
    const port = freePort();
    await fx.env.ok(["run", "-d", "--name", "web", "-p", `127.0.0.1:${port}:80`, fx.image, ...HTTPD("published")]);
    expect(await fetchWhenUp(`http://127.0.0.1:${port}/`)).toBe("published\n");
    expect((await fx.env.ok(["port", "web"])).trim()).toBe(`80/tcp -> 127.0.0.1:${port}`);
    expect((await fx.env.ok(["port", "web", "80"])).trim()).toBe(`127.0.0.1:${port}`);
    const ports = JSON.parse(await fx.env.ok(["inspect", "-f", "{{json .NetworkSettings.Ports}}", "web"])) as Record<string, unknown>;
    expect(ports["80/tcp"]).toEqual([{ HostIp: "127.0.0.1", HostPort: String(port) }]);
    await fx.env.ok(["rm", "-f", "web"]);
    // Stopped with its container: nothing answers any more.
    expect(await fetchWhenUp(`http://127.0.0.1:${port}/`, 300)).toBeUndefined();
  });

  test.skipIf(slirp === null)("the network is up when the container's first instruction runs, even behind a slow helper", async () => {
    // A slirp4netns that takes a second to start: the runtime must hold the
    // container's process until it is up, or its first command finds no address.
    const bin = join(fx.work, "slow-bin");
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, "slirp4netns"), `#!/bin/sh\nsleep 1\nexec ${slirp} "$@"\n`, { mode: 0o755 });
    const env = { PATH: `${bin}:${process.env.PATH ?? "/usr/bin:/bin"}` };
    const r = await fx.env.run(["run", "--rm", "--network", "slirp4netns", fx.image, "ip", "-4", "-o", "addr", "show", "scope", "global"], { env });
    expect([r.code, r.stderr]).toEqual([0, ""]);
    expect(r.stdout).toMatch(/inet 10\.0\.2\.\d+\//);
  });

  test("a host port in use is one clear error (125) and the container never runs", async () => {
    const holder = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    try {
      const r = await fx.env.run(["run", "-d", "--name", "clash", "-p", `127.0.0.1:${holder.port}:80`, fx.image, "sleep", "100"]);
      expect(r.code).toBe(125);
      expect(r.stdout).toBe("");
      expect(r.stderr.trim()).toBe(`Error: bind for 127.0.0.1:${holder.port} failed: port is already allocated`);
      expect((await fx.env.ok(["ps", "-a", "--filter", "name=clash", "--format", "{{.Status}}"])).trim()).toBe("Created");
    } finally {
      holder.stop(true);
      await fx.env.run(["rm", "-f", "clash"]);
    }
  });

  test("a user network: containers reach each other by name and by alias; a network in use is not removed", async () => {
    await fx.env.ok(["network", "create", "tnet"]);
    try {
      await fx.env.ok(["run", "-d", "--network", "tnet", "--network-alias", "site", "--name", "srv", fx.image, ...HTTPD("by-name")]);
      const get = async (host: string): Promise<string | undefined> =>
        await until(async () => {
          const r = await fx.env.run(["run", "--rm", "--network", "tnet", fx.image, "wget", "-q", "-O", "-", `http://${host}/`]);
          return r.code === 0 ? r.stdout : undefined;
        }, 15_000, 200);
      expect(await get("srv")).toBe("by-name\n");
      expect(await get("site")).toBe("by-name\n");
      const inspected = JSON.parse(await fx.env.ok(["network", "inspect", "tnet"])) as { Name: string; Containers?: Record<string, { Name: string }> }[];
      expect(inspected[0]?.Name).toBe("tnet");
      expect(Object.values(inspected[0]?.Containers ?? {}).map((c) => c.Name)).toEqual(["srv"]);
      const busy = await fx.env.run(["network", "rm", "tnet"]);
      expect(busy.code).not.toBe(0);
      expect(busy.stderr).toContain("tnet");
      await fx.env.ok(["rm", "-f", "srv"]);
    } finally {
      await fx.env.run(["rm", "-f", "srv"]);
      await fx.env.run(["network", "rm", "tnet"]);
    }
    expect((await fx.env.ok(["network", "ls", "--format", "{{.Name}}"])).split("\n")).not.toContain("tnet");
  });

  test("--network none has loopback only; host sees the host's interfaces; container: shares another's", async () => {
    const none = await fx.env.ok(["run", "--rm", "--network", "none", fx.image, "cat", "/proc/net/dev"]);
    expect(interfaces(none)).toEqual(["lo"]);

    const host = await fx.env.ok(["run", "--rm", "--network", "host", fx.image, "cat", "/proc/net/dev"]);
    const ours = await Bun.file("/proc/net/dev").text();
    expect(interfaces(host)).toEqual(interfaces(ours));

    await fx.env.ok(["run", "-d", "--network", "none", "--name", "owner", fx.image, ...HTTPD("shared")]);
    try {
      const r = await until(async () => {
        const x = await fx.env.run(["run", "--rm", "--network", "container:owner", fx.image, "wget", "-q", "-O", "-", "http://127.0.0.1/"]);
        return x.code === 0 ? x.stdout : undefined;
      }, 10_000, 200);
      expect(r).toBe("shared\n");
    } finally {
      await fx.env.run(["rm", "-f", "owner"]);
    }
  });

  test("--dns, --dns-search, --add-host and -h land in the generated /etc files", async () => {
    const out = await fx.env.ok([
      "run",
      "--rm",
      "--dns",
      "10.1.2.3",
      "--dns-search",
      "example.test",
      "--add-host",
      "db:10.9.8.7",
      "-h",
      "myhost",
      fx.image,
      "sh",
      "-c",
      "cat /etc/resolv.conf; echo ---; cat /etc/hosts; echo ---; hostname; cat /etc/hostname",
    ]);
    const [resolv = "", hosts = "", names = ""] = out.split("---\n");
    expect(resolv).toContain("nameserver 10.1.2.3");
    expect(resolv).toContain("search example.test");
    expect(hosts).toMatch(/^10\.9\.8\.7\s+db$/m);
    expect(hosts).toMatch(/\bmyhost\b/);
    expect(names).toBe("myhost\nmyhost\n");
  });

  test("nothing is left: no network helper outlives its container", async () => {
    const port = freePort();
    const id = (await fx.env.ok(["run", "-d", "-p", `127.0.0.1:${port}:80`, fx.image, ...HTTPD("x")])).trim();
    expect(await fetchWhenUp(`http://127.0.0.1:${port}/`)).toBe("x\n");
    await fx.env.ok(["rm", "-f", id]);
    const run = readdirSync(`${fx.env.runRoot}/containers`).filter((d) => id.startsWith(d));
    expect(run).toEqual([]);
  });

  test("run --rm frees its published port before it returns, and its helper ends after it returns", async () => {
    // The shim tells a --rm container's exit before its helper is gone unless
    // the helper holds ports: the port can be bound the moment run returns.
    for (const net of [[], ...(slirp ? [["--network", "slirp4netns"]] : [])]) {
      const port = freePort();
      await fx.env.ok(["run", "--rm", ...net, "-p", `127.0.0.1:${port}:80`, fx.image, "true"]);
      Bun.listen({ hostname: "127.0.0.1", port, socket: { data() {} } }).stop(true);
      const cidfile = join(fx.work, `rm-${net.length}.cid`);
      // The cidfile goes with the container: read while it runs.
      const p = fx.spawn(["run", "--rm", "--cidfile", cidfile, ...net, fx.image, "sleep", "1"]);
      const id = (await until(() => (existsSync(cidfile) ? readFileSync(cidfile, "utf8").trim() : undefined), 5000)) ?? "";
      expect(await p.exited).toBe(0);
      expect(id).toMatch(/^[0-9a-f]{64}$/);
      const left = await until(() => {
        const l = leftovers(fx, id, {});
        return l.length === 0 ? l : undefined;
      }, 5000);
      expect(left ?? leftovers(fx, id, {})).toEqual([]);
    }
  });
});
