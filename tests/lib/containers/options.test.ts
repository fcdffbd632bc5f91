/** The CLI's schema-free defaults (defaultedOptions) against the zod schema they stand in for. */
import { describe, expect, test } from "bun:test";
import { createOptions, createOptionsSchema, defaultedOptions, type CreateOptionsInput } from "../../../lib/containers/options.ts";
import { noResources, resourcesSchema } from "../../../lib/containers/resources.ts";

const cases: Record<string, CreateOptionsInput> = {
  empty: {},
  "what run -d busybox sleep gives": { cmd: ["sleep", "1000"], entrypoint: null, env: [], labels: {}, tty: false, mounts: [], ports: [] },
  "explicit undefined fields keep their defaults": { workdir: undefined, env: undefined, network: undefined, restart: undefined, resources: undefined },
  "nested defaults": {
    mounts: [
      { type: "bind", source: "/srv", target: "/data" },
      { type: "tmpfs", target: "/t", readOnly: true, options: ["size=1m"] },
    ],
    ports: [{ containerPort: 80, hostPort: 8080 }, { containerPort: 53, hostPort: 0, protocol: "udp", hostIp: "127.0.0.1" }],
    resources: { memory: 64 << 20, pidsLimit: 10 },
    restart: { name: "on-failure" },
    healthcheck: { retries: 3, intervalMs: 1000 },
  },
  "every field given": {
    cmd: ["a"],
    entrypoint: [],
    env: ["A=1"],
    workdir: "/w",
    user: "1:2",
    hostname: "h",
    domainname: "d",
    labels: { a: "b" },
    tty: true,
    openStdin: true,
    init: true,
    readOnly: true,
    capAdd: ["NET_ADMIN"],
    capDrop: ["ALL"],
    privileged: true,
    securityOpt: ["no-new-privileges"],
    ulimits: [{ name: "nofile", soft: 1, hard: 2 }],
    stopSignal: "SIGINT",
    stopTimeout: 3,
    autoRemove: true,
    shmSize: 1024,
    logMaxSize: 10,
    logMaxFiles: 2,
    sysctls: { "net.ipv4.ip_forward": "1" },
    groupAdd: ["10"],
    network: "none",
    extraNetworks: ["n2"],
    networkAliases: ["x"],
    publishAll: true,
    dns: ["1.1.1.1"],
    dnsSearch: ["s"],
    dnsOptions: ["ndots:1"],
    addHosts: ["a:1.2.3.4"],
    sdNotify: "container",
    restart: { name: "always", maximumRetryCount: 0 },
    noHealthcheck: true,
    healthOnFailure: "kill",
  },
};

describe("defaultedOptions", () => {
  for (const [name, input] of Object.entries(cases)) {
    test(`equals the schema's result: ${name}`, () => {
      expect(defaultedOptions(input)).toEqual(createOptions(input));
    });
  }

  test("fills every field the schema defaults (a new defaulted field must be added there too)", () => {
    const fromSchema = createOptionsSchema.parse({}) as Record<string, unknown>;
    const ours = defaultedOptions({}) as Record<string, unknown>;
    for (const [k, v] of Object.entries(fromSchema)) if (v !== undefined) expect([k, ours[k]]).toEqual([k, v]);
    expect(Object.keys(ours).sort()).toEqual(Object.keys(fromSchema).sort());
  });

  test("noResources is the resource schema's defaults", () => {
    expect(noResources()).toEqual(resourcesSchema.parse({}));
    expect(Object.keys(noResources()).sort()).toEqual(Object.keys(resourcesSchema.parse({})).sort());
  });

  test("the caller's arrays are not shared with another call's defaults", () => {
    const a = defaultedOptions({});
    a.env.push("X=1");
    expect(defaultedOptions({}).env).toEqual([]);
  });
});
