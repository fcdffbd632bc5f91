/**
 * buildSpec's output under the real runtimes on this machine: runc 1.1 and,
 * when present, crun. As root the runtime runs in a private mount namespace;
 * as an unprivileged user it runs as root of a user namespace made like
 * skiff's (`unshare --map-root-user --map-auto`: 0 → the user, 1.. → the
 * subuid range), with no user namespace in the spec. The root filesystem is
 * busybox-static with its applets. CI runs this file as root and as skiff-ci.
 *
 * crun 1.8 needs no spec change; it needs its environment adjusted on a
 * hybrid cgroup host: /sys/fs/cgroup/unified hidden (a tmpfs over it) in the
 * mount namespace it runs in, and, rootless, `--cgroup-manager=disabled`.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { hostname as osHostname, tmpdir } from "node:os";
import { join } from "node:path";
import { createOptions } from "../../lib/containers/options.ts";
import type { ContainerConfig } from "../../lib/images/manifest.ts";
import { buildSpec, capabilitiesFromMask, serializeSpec, type SpecInput } from "../../lib/oci/spec.ts";

const isRoot = process.getuid?.() === 0;
const BUSYBOX = "/bin/busybox";
const TINI = "/usr/bin/tini-static";
/** CapEff of a default Docker container (Docker's 14 capabilities). */
const DOCKER_CAPEFF = "00000000a80425fb";
const IMAGE: ContainerConfig = { Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], Cmd: ["sh"] };
const PASSWD = "root:x:0:0:root:/root:/bin/sh\ntester:x:1000:1000:Tester:/home/tester:/bin/sh\n";
const GROUP = "root:x:0:\ntty:x:5:\ntesters:x:1000:\nextra:x:1001:tester\n";
const USERNS = ["unshare", "--user", "--map-root-user", "--map-auto", "--mount", "--propagation", "private"];
const MOUNTNS = ["unshare", "--mount", "--propagation", "private"];

/** Finds a tool on PATH or in the sbin directories, which an unprivileged user's PATH may lack. */
function tool(name: string): string | null {
  return Bun.which(name, { PATH: `${process.env.PATH ?? ""}:/usr/local/sbin:/usr/sbin:/sbin` });
}
const RUNC = tool("runc");
const CRUN = tool("crun");

function sh(argv: string[]): { code: number; stdout: string; stderr: string } {
  const r = Bun.spawnSync(argv, { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode ?? -1, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

/** True for an ELF executable with no program interpreter (PT_INTERP), i.e. statically linked. */
function isStatic(path: string): boolean {
  const elf = readFileSync(path);
  if (elf.length < 64 || elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2) return false; // ELF64 only
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const phentsize = elf.readUInt16LE(0x36);
  const phnum = elf.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) {
    if (elf.readUInt32LE(phoff + i * phentsize) === 3) return false;
  }
  return true;
}

function currentUser(): string {
  return sh(["id", "-un"]).stdout.trim();
}

/** Why the whole file cannot run here, if it cannot. */
function skipReason(): string | undefined {
  if (!RUNC) return "runc is not installed";
  if (!existsSync(BUSYBOX)) return `${BUSYBOX} is missing (install busybox-static)`;
  if (!isStatic(BUSYBOX)) return `${BUSYBOX} is dynamically linked (install busybox-static)`;
  if (!tool("unshare")) return "unshare (util-linux) is not installed";
  if (isRoot) return undefined;
  if (!sh(["unshare", "--help"]).stdout.includes("--map-auto")) return "unshare lacks --map-auto (util-linux < 2.38)";
  if (!tool("newuidmap")) return "newuidmap is not installed (package uidmap)";
  const user = currentUser();
  const subuid = existsSync("/etc/subuid") ? readFileSync("/etc/subuid", "utf8") : "";
  if (!subuid.split("\n").some((l) => l.startsWith(`${user}:`) || l.startsWith(`${process.getuid?.()}:`))) {
    return `no /etc/subuid range for ${user}`;
  }
  return undefined;
}

const skip = skipReason();
if (skip) console.warn(`skipping spec-runc tests: ${skip}`);
const tiniMissing = existsSync(TINI) ? undefined : `${TINI} is missing (install tini)`;
if (!skip && tiniMissing) console.warn(`skipping --init test: ${tiniMissing}`);

interface Runtime {
  name: "runc" | "crun";
  /** argv that runs the bundle and exits with the container's code. */
  run(state: string, bundle: string, id: string): string[];
  /** argv that force-deletes a container left behind. */
  remove(state: string, id: string): string[];
}

const wrap = isRoot ? MOUNTNS : USERNS;
/** Hides the cgroup2 mount of a hybrid host from crun 1.8, which refuses that layout. */
const CRUN_PRELUDE = "if mountpoint -q /sys/fs/cgroup/unified; then mount -t tmpfs none /sys/fs/cgroup/unified || exit 125; fi";
const crunFlags = isRoot ? "" : "--cgroup-manager=disabled";

const RUNTIMES: Runtime[] = [
  {
    name: "runc",
    run: (state, bundle, id) => [...wrap, RUNC ?? "runc", "--root", state, "run", "--bundle", bundle, id],
    remove: (state, id) => [...wrap, RUNC ?? "runc", "--root", state, "delete", "-f", id],
  },
];
if (CRUN) {
  RUNTIMES.push({
    name: "crun",
    run: (state, bundle, id) => [...wrap, "sh", "-c", `${CRUN_PRELUDE}; exec ${CRUN} ${crunFlags} --root "$0" run --bundle "$1" "$2"`, state, bundle, id],
    remove: (state, id) => [...wrap, "sh", "-c", `${CRUN_PRELUDE}; exec ${CRUN} ${crunFlags} --root "$0" delete -f "$1"`, state, id],
  });
} else if (!skip) {
  console.warn("skipping crun cases: crun is not installed");
}

let base: string;
let rootfs: string;
let hostDir: string;
let hardNofile: number;
let counter = 0;

function buildRootfs(dir: string): void {
  mkdirSync(join(dir, "bin"), { recursive: true });
  mkdirSync(join(dir, "etc"));
  mkdirSync(join(dir, "tmp"));
  chmodSync(join(dir, "tmp"), 0o1777);
  copyFileSync(BUSYBOX, join(dir, "bin", "busybox"));
  chmodSync(join(dir, "bin", "busybox"), 0o755);
  // Relative links, so they resolve inside the container (`busybox --install -s` writes absolute ones).
  for (const applet of sh([BUSYBOX, "--list"]).stdout.split("\n")) {
    if (applet !== "" && applet !== "busybox") symlinkSync("busybox", join(dir, "bin", applet));
  }
  writeFileSync(join(dir, "etc", "passwd"), PASSWD);
  writeFileSync(join(dir, "etc", "group"), GROUP);
}

beforeAll(() => {
  if (skip) return;
  base = mkdtempSync(join(tmpdir(), "skiff-spec-runc-"));
  chmodSync(base, 0o755);
  rootfs = join(base, "rootfs");
  hostDir = join(base, "host");
  buildRootfs(rootfs);
  mkdirSync(join(hostDir, "ro"), { recursive: true });
  mkdirSync(join(hostDir, "rw"));
  chmodSync(join(hostDir, "rw"), 0o777);
  writeFileSync(join(hostDir, "ro", "greeting"), "hello from the host\n");
  writeFileSync(join(hostDir, "hosts"), "127.0.0.1 localhost\n10.9.8.7 special.test\n");
  writeFileSync(join(hostDir, "hostname"), "specbox\n");
  writeFileSync(join(hostDir, "resolv.conf"), "nameserver 10.9.8.1\n");
  hardNofile = Number(sh(["sh", "-c", "ulimit -Hn"]).stdout.trim());
});

afterAll(() => {
  if (skip || !base) return;
  // Containers may leave files owned by subordinate ids, which only the namespace can remove.
  if (!isRoot) sh([...USERNS, "rm", "-rf", base]);
  rmSync(base, { recursive: true, force: true });
});

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  id: string;
}

/** Builds the spec from `over`, writes a bundle and runs it to completion under `rt`. */
async function runSpec(rt: Runtime, over: Partial<SpecInput> & { opts?: Parameters<typeof createOptions>[0] }): Promise<RunResult> {
  const id = `skiff-spec-${process.pid}-${++counter}`;
  const { opts, ...rest } = over;
  const spec = buildSpec({
    id,
    options: createOptions(opts ?? {}),
    image: IMAGE,
    rootfs,
    passwd: PASSWD,
    group: GROUP,
    rootless: !isRoot,
    defaultNofile: { soft: Math.min(1024, hardNofile), hard: hardNofile },
    ...rest,
  });
  const bundle = join(base, "bundles", id);
  mkdirSync(bundle, { recursive: true });
  writeFileSync(join(bundle, "config.json"), serializeSpec(spec));
  const state = join(base, `state-${rt.name}`);
  mkdirSync(state, { recursive: true });
  const p = Bun.spawn(rt.run(state, bundle, id), { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => p.kill("SIGKILL"), 30_000);
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  clearTimeout(timer);
  if (existsSync(join(state, id))) sh(rt.remove(state, id));
  return { code, stdout, stderr, id };
}

/** Runs `script` with `sh -c` and expects exit 0. */
async function ok(rt: Runtime, script: string, over: Parameters<typeof runSpec>[1] = {}): Promise<string> {
  const r = await runSpec(rt, { ...over, opts: { ...over.opts, cmd: ["sh", "-c", script] } });
  if (r.code !== 0) throw new Error(`${rt.name} ${JSON.stringify(script)} exited ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

function statusField(status: string, field: string): string | undefined {
  return new RegExp(`^${field}:\\s*(\\S+)`, "m").exec(status)?.[1];
}

for (const rt of RUNTIMES) {
  describe.skipIf(skip !== undefined)(`${rt.name} runs buildSpec's config (${isRoot ? "root" : "rootless"})`, () => {
    test("exit codes pass through", async () => {
      expect((await runSpec(rt, { opts: { cmd: ["sh", "-c", "exit 3"] } })).code).toBe(3);
      expect((await runSpec(rt, { opts: { cmd: ["true"] } })).code).toBe(0);
    });

    test("the resolved user, groups and home", async () => {
      expect((await ok(rt, "id", { opts: { user: "tester" } })).trim()).toBe("uid=1000(tester) gid=1000(testers) groups=1000(testers),1001(extra)");
      const [uid, gid, groups, home] = (await ok(rt, "id -u; id -g; id -G; echo $HOME", { opts: { user: "2000:3000", groupAdd: ["extra"] } })).trim().split("\n");
      expect([uid, gid, home]).toEqual(["2000", "3000", "/"]);
      // runc keeps the spec's group order, crun sorts it.
      expect(groups?.split(" ").sort()).toEqual(["1001", "3000"]);
      expect((await ok(rt, "id; echo $HOME")).trim()).toBe("uid=0(root) gid=0(root) groups=0(root)\n/root");
    });

    test("Docker's default capabilities; add/drop; none effective for a non-root user", async () => {
      const status = await ok(rt, "cat /proc/self/status");
      expect(statusField(status, "CapEff")).toBe(DOCKER_CAPEFF);
      expect(statusField(status, "CapBnd")).toBe(DOCKER_CAPEFF);
      expect(statusField(status, "CapInh")).toBe("0000000000000000");
      expect(statusField(status, "CapAmb")).toBe("0000000000000000");
      const dropped = await ok(rt, "cat /proc/self/status", { opts: { capDrop: ["ALL"], capAdd: ["SYS_TIME"] } });
      expect(statusField(dropped, "CapEff")).toBe("0000000002000000");
      const user = await ok(rt, "cat /proc/self/status", { opts: { user: "tester" } });
      expect(statusField(user, "CapEff")).toBe("0000000000000000");
      expect(statusField(user, "CapBnd")).toBe(DOCKER_CAPEFF);
    });

    test("hostname, environment, working directory", async () => {
      const out = await ok(rt, "hostname; pwd; env | sort", { opts: { env: ["FOO=bar"], workdir: "/tmp" } });
      const [name, cwd, ...env] = out.trim().split("\n");
      const runId = env.find((e) => e.startsWith("HOSTNAME="))?.slice("HOSTNAME=".length);
      expect(name).toBe(runId);
      expect(name).toHaveLength(12);
      expect(cwd).toBe("/tmp");
      expect(env).toContain("FOO=bar");
      expect(env).toContain("HOME=/root");
      expect(env).toContain("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
      // Rootless, runc 1.1 has no way to set a domain name (see buildSpec).
      const domain = rt.name === "runc" && !isRoot ? "(none)" : "example.test";
      expect((await ok(rt, "hostname; cat /proc/sys/kernel/domainname", { opts: { hostname: "web", domainname: "example.test" } })).trim()).toBe(`web\n${domain}`);
    });

    test("bind mounts: read-only refuses writes, writable ones reach the host", async () => {
      const r = await runSpec(rt, {
        opts: {
          cmd: ["sh", "-c", "cat /data/greeting; echo from-container > /out/written; touch /data/new"],
          mounts: [
            { type: "bind", source: join(hostDir, "ro"), target: "/data", readOnly: true },
            { type: "volume", source: join(hostDir, "rw"), target: "/out" },
          ],
        },
      });
      expect(r.stdout).toBe("hello from the host\n");
      expect(r.stderr).toContain("Read-only file system");
      expect(r.code).not.toBe(0);
      expect(readFileSync(join(hostDir, "rw", "written"), "utf8")).toBe("from-container\n");
      expect(existsSync(join(hostDir, "ro", "new"))).toBe(false);
    });

    test("tmpfs with size and mode; Docker's nosuid,nodev,noexec", async () => {
      const out = await ok(rt, "grep ' /scratch ' /proc/mounts; stat -c %a /scratch; echo x > /scratch/f && cat /scratch/f", {
        opts: { mounts: [{ type: "tmpfs", target: "/scratch", options: ["size=1m", "mode=1770"] }] },
      });
      const [line, mode, content] = out.trim().split("\n");
      expect(line).toStartWith("tmpfs /scratch tmpfs rw,nosuid,nodev,noexec");
      expect(line).toContain("size=1024k");
      expect(mode).toBe("1770");
      expect(content).toBe("x");
    });

    test("read-only root: writes fail except on the container's tmpfs; generated /etc files are mounted read-only", async () => {
      const files = { hosts: join(hostDir, "hosts"), hostname: join(hostDir, "hostname"), resolvConf: join(hostDir, "resolv.conf") };
      const r = await runSpec(rt, {
        files,
        opts: { readOnly: true, cmd: ["sh", "-c", "touch /dev/shm/ok && echo shm-ok; cat /etc/hosts /etc/hostname /etc/resolv.conf; touch /newfile || echo root-ro; echo x >> /etc/hosts || echo hosts-ro"] },
      });
      expect(r.code).toBe(0);
      expect(r.stdout).toBe("shm-ok\n127.0.0.1 localhost\n10.9.8.7 special.test\nspecbox\nnameserver 10.9.8.1\nroot-ro\nhosts-ro\n");
    });

    test("masked and read-only paths", async () => {
      const present = ["/proc/kcore", "/proc/keys", "/proc/interrupts", "/proc/timer_list"].filter((p) => existsSync(p));
      const out = await ok(rt, `for f in ${present.join(" ")}; do wc -c < $f; done; ls -A /sys/firmware | wc -l; echo h > /proc/sysrq-trigger || echo sysrq-ro`);
      const lines = out.trim().split("\n");
      expect(lines).toEqual([...present.map(() => "0"), "0", "sysrq-ro"]);
    });

    test.skipIf(tiniMissing !== undefined)("--init: tini is PID 1 and passes the exit code on", async () => {
      const initPath = TINI;
      const out = await ok(rt, "cat /proc/1/comm; tr '\\0' ' ' < /proc/1/cmdline", { initPath, opts: { init: true } });
      expect(out.trim().split("\n")).toEqual(["docker-init", "/sbin/docker-init -- sh -c cat /proc/1/comm; tr '\\0' ' ' < /proc/1/cmdline"]);
      expect((await runSpec(rt, { initPath, opts: { init: true, cmd: ["sh", "-c", "exit 5"] } })).code).toBe(5);
    });

    test("rlimits, no-new-privileges, sysctls", async () => {
      const out = await ok(rt, "ulimit -n; ulimit -Hn; ulimit -c; grep NoNewPrivs /proc/self/status; cat /proc/sys/net/ipv4/ip_unprivileged_port_start /proc/sys/kernel/shmmax", {
        opts: { securityOpt: ["no-new-privileges"], ulimits: [{ name: "core", soft: 0, hard: 0 }], sysctls: { "kernel.shmmax": "123456" } },
      });
      expect(out.trim().split("\n")).toEqual([String(Math.min(1024, hardNofile)), String(hardNofile), "0", "NoNewPrivs:\t1", "0", "123456"]);
    });

    test("the host's network: /sys read-only, host interfaces visible, host name", async () => {
      const out = await ok(rt, "hostname; ls /sys/class/net | grep -c '^lo$'; touch /sys/x 2>/dev/null || echo sys-ro; cat /proc/sys/net/ipv4/ip_unprivileged_port_start", { network: "host" });
      const [name, lo, sysRo, port] = out.trim().split("\n");
      expect(name).toBe(osHostname());
      expect(lo).toBe("1");
      expect(sysRo).toBe("sys-ro");
      expect(port).toBe(readFileSync("/proc/sys/net/ipv4/ip_unprivileged_port_start", "utf8").trim());
    });

    test("privileged: every capability this process may grant, no masked paths", async () => {
      const bounding = statusField(readFileSync("/proc/self/status", "utf8"), "CapBnd") ?? "";
      const out = await ok(rt, "grep CapEff /proc/self/status; ls -A /sys/firmware | wc -l", {
        availableCapabilities: capabilitiesFromMask(bounding),
        opts: { privileged: true },
      });
      const [capEff, firmware] = out.trim().split("\n");
      expect(capEff).toBe(`CapEff:\t${bounding}`);
      expect(Number(firmware)).toBe(readdirSync("/sys/firmware").length);
    });
  });
}
