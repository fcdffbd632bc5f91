/** `generate systemd` from container records, against golden units; `run` flags rebuilt from a record. */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { createOptions, type CreateOptions } from "../../../lib/containers/options.ts";
import type { ContainerRecord } from "../../../lib/containers/record.ts";
import { generateSystemdUnit, serviceNameFor, type GenerateOptions } from "../../../lib/systemd/generate.ts";
import { runArgsOf } from "../../../lib/systemd/run-args.ts";
import { splitWords, UnitFile } from "../../../lib/systemd/unitfile.ts";
import { expectGolden } from "../../helpers/golden.ts";
import { testRecord } from "../../helpers/records.ts";

const GOLDEN = join(import.meta.dir, "..", "..", "fixtures", "systemd");
const ID = "a".repeat(64);

function record(options: Partial<Parameters<typeof createOptions>[0]> = {}, name = "web"): ContainerRecord {
  return testRecord({ id: ID, name, options });
}

const BASE: GenerateOptions = {
  new: false,
  useName: true,
  restartPolicy: "on-failure",
  stopTimeout: 10,
  containerPrefix: "container",
  separator: "-",
  noHeader: false,
  wants: [],
  after: [],
  requires: [],
  env: [],
  skiff: ["/usr/bin/skiff"],
  globalArgs: [],
  version: "1.0.0",
  user: false,
  runRoot: "/run/skiff",
};

const RICH: Partial<CreateOptions> = {
  env: ["PATH=/bin", "GREETING=hello $USER 100%"],
  cmd: ["httpd", "-f", "-p", "8080"],
  labels: { app: "web", SKIFF_SYSTEMD_UNIT: "old.service" },
  mounts: [
    { type: "volume", source: "data", target: "/data", readOnly: false, options: [] },
    { type: "bind", source: "/srv/www", target: "/www", readOnly: true, options: [] },
    { type: "volume", source: "c".repeat(64), target: "/cache", readOnly: false, options: [] },
    { type: "tmpfs", target: "/run", readOnly: false, options: ["size=65536k"] },
  ],
  ports: [
    { containerPort: 8080, protocol: "tcp", hostIp: "0.0.0.0", hostPort: 80 },
    { containerPort: 53, protocol: "udp", hostIp: "127.0.0.1", hostPort: 0 },
  ],
  user: "1000:1000",
  capAdd: ["NET_BIND_SERVICE"],
  stopTimeout: 20,
  network: "none",
  healthcheck: { test: ["CMD-SHELL", "wget -q -O- localhost:8080"], intervalMs: 30_000, retries: 3 },
  restart: { name: "always", maximumRetryCount: 0 },
};

describe("generate systemd", () => {
  test("service names: prefix, separator, name or id", () => {
    expect(serviceNameFor(record(), BASE)).toBe("container-web.service");
    expect(serviceNameFor(record(), { ...BASE, useName: false })).toBe(`container-${ID.slice(0, 12)}.service`);
    expect(serviceNameFor(record(), { ...BASE, containerPrefix: "skiff", separator: "_" })).toBe("skiff_web.service");
    expect(serviceNameFor(record(), { ...BASE, containerPrefix: "" })).toBe("web.service");
  });

  test("golden: start/stop an existing container (Type=notify through the shim)", () => {
    expectGolden(join(GOLDEN, "container-web.service"), generateSystemdUnit(record(RICH), BASE).text);
  });

  test("golden: --new runs a fresh container in the foreground and removes it", () => {
    const u = generateSystemdUnit(record(RICH), { ...BASE, new: true, restartPolicy: "always", restartSec: 5, wants: ["db.service"], after: ["db.service"], env: ["TZ=UTC"], user: true, globalArgs: ["--root", "/srv/skiff"] });
    expectGolden(join(GOLDEN, "container-web-new.service"), u.text);
    const parsed = UnitFile.parse(u.text);
    expect(parsed.get("Service", "Type")).toBe("notify");
    expect(parsed.getAll("Unit", "Wants")).toEqual(["db.service"]);
  });

  test("a container with --sdnotify=ignore is attached to instead", () => {
    const u = UnitFile.parse(generateSystemdUnit(record({ sdNotify: "ignore" }), BASE).text);
    expect(u.get("Service", "Type")).toBe("exec");
    expect(u.get("Service", "ExecStart")).toBe("/usr/bin/skiff start -a web");
  });

  test("restart policies are systemd's", () => {
    expect(() => generateSystemdUnit(record(), { ...BASE, restartPolicy: "unless-stopped" })).toThrow("is not a valid restart policy");
  });
});

describe("run flags from a record", () => {
  test("they rebuild the container: anonymous volumes as -v PATH, unit labels and --restart left out", () => {
    const args = runArgsOf(record(RICH));
    expect(args).toEqual([
      "-e", "PATH=/bin",
      "-e", "GREETING=hello $USER 100%",
      "-u", "1000:1000",
      "-l", "app=web",
      "-v", "data:/data",
      "-v", "/srv/www:/www:ro",
      "-v", "/cache",
      "--tmpfs", "/run:size=65536k",
      "--cap-add", "NET_BIND_SERVICE",
      "--stop-timeout", "20",
      "--network", "none",
      "-p", "80:8080",
      "-p", "127.0.0.1::53/udp",
      "--health-cmd", "wget -q -O- localhost:8080",
      "--health-interval", "30s",
      "--health-retries", "3",
      "registry.example.com/web:1",
      "httpd", "-f", "-p", "8080",
    ]);
  });

  test("an entrypoint of several words: the first is --entrypoint, the rest lead the command", () => {
    expect(runArgsOf(record({ entrypoint: ["/bin/sh", "-c"], cmd: ["echo hi"] })).slice(-4)).toEqual(["/bin/sh", "registry.example.com/web:1", "-c", "echo hi"]);
  });

  test("the ExecStart line splits back into the same words (specifiers and $ escaped)", () => {
    const u = UnitFile.parse(generateSystemdUnit(record(RICH), { ...BASE, new: true }).text);
    const words = splitWords((u.get("Service", "ExecStart") ?? "").replaceAll("$$", "$").replaceAll("%%", "%"));
    expect(words).toContain("GREETING=hello $USER 100%");
  });
});
