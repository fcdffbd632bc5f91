/** Request bodies: malformed JSON, wrong types, unknown fields, size caps. */
import { afterAll, describe, expect, test } from "bun:test";
import { MAX_JSON_BODY, parseFilters, parseJsonBody, parseRegistryAuth, queryBool, ContainerCreateSchema } from "../../../lib/api/schemas.ts";
import { planCreate } from "../../../lib/api/create-options.ts";
import { json, testApi } from "./helpers.ts";

const api = testApi();
afterAll(() => api.close());

function post(path: string, body: string, headers: Record<string, string> = {}): Promise<Response> {
  return Promise.resolve(api.app.request(path, { method: "POST", body, headers: { "Content-Type": "application/json", ...headers } }));
}

describe("container create bodies", () => {
  test("malformed JSON is 400 invalid JSON", async () => {
    const res = await post("/v1.44/containers/create", "{not json");
    expect(res.status).toBe(400);
    expect(String((await json(res)).message)).toStartWith("invalid JSON");
  });

  test("a field of the wrong type is 400 naming it", async () => {
    const res = await post("/containers/create", JSON.stringify({ Image: "busybox", Tty: "yes" }));
    expect(res.status).toBe(400);
    expect(String((await json(res)).message)).toContain("Tty");
  });

  test("no image is 400", async () => {
    const res = await post("/containers/create", "{}");
    expect(res.status).toBe(400);
  });

  test("unknown fields pass; a missing image is then 404", async () => {
    const res = await post("/containers/create", JSON.stringify({ Image: "nosuch:1", FutureField: { x: 1 }, HostConfig: { AlsoNew: true } }));
    expect(res.status).toBe(404);
    expect(String((await json(res)).message)).toContain("no such image");
  });

  test("a body over the cap is 413 (declared length)", async () => {
    const res = await post("/containers/create", "{}", { "Content-Length": String(MAX_JSON_BODY + 1) });
    expect(res.status).toBe(413);
  });

  test("a body over the cap is 413 (streamed)", async () => {
    const big = JSON.stringify({ Image: "x", Env: ["A=" + "a".repeat(MAX_JSON_BODY)] });
    const res = await post("/containers/create", big);
    expect(res.status).toBe(413);
    expect(String((await json(res)).message)).toContain("too large");
  });

  test("published ports, DNS and extra hosts map onto the network options", () => {
    const o = planCreate(
      ContainerCreateSchema.parse({
        Image: "x",
        HostConfig: { PortBindings: { "80/tcp": [{ HostIp: "", HostPort: "8080" }], "53/udp": [{ HostIp: "127.0.0.1", HostPort: "" }] }, PublishAllPorts: true, Dns: ["1.1.1.1"], ExtraHosts: ["db:10.0.0.2"] },
      }),
    ).options;
    expect(o.network).toBe("default");
    expect(o.ports).toEqual([
      { containerPort: 80, protocol: "tcp", hostIp: "0.0.0.0", hostPort: 8080 },
      { containerPort: 53, protocol: "udp", hostIp: "127.0.0.1", hostPort: 0 },
    ]);
    expect(o.publishAll).toBe(true);
    expect(o.dns).toEqual(["1.1.1.1"]);
    expect(o.addHosts).toEqual(["db:10.0.0.2"]);
  });

  test("user networks must exist; aliases come from EndpointsConfig", () => {
    const body = ContainerCreateSchema.parse({ Image: "x", HostConfig: { NetworkMode: "mynet" }, NetworkingConfig: { EndpointsConfig: { mynet: { Aliases: ["web"] }, other: {} } } });
    expect(() => planCreate(body)).toThrow(/network mynet not found/);
    const o = planCreate(body, { networkExists: () => true }).options;
    expect(o.network).toBe("mynet");
    expect(o.extraNetworks).toEqual(["other"]);
    expect(o.networkAliases).toEqual(["web"]);
    expect(planCreate(ContainerCreateSchema.parse({ Image: "x", HostConfig: { NetworkMode: "bridge" } })).options.network).toBe("default");
    expect(planCreate(ContainerCreateSchema.parse({ Image: "x", HostConfig: { NetworkMode: "none" } })).options.network).toBe("none");
  });
});

describe("planCreate", () => {
  test("maps Docker's config onto CreateOptions", () => {
    const plan = planCreate(
      ContainerCreateSchema.parse({
        Image: "busybox",
        Cmd: ["echo", "hi"],
        Entrypoint: [""],
        Env: ["A=1", "NOVALUE"],
        WorkingDir: "/tmp",
        User: "1000:1000",
        Tty: true,
        OpenStdin: true,
        Labels: { l: "v" },
        StopSignal: "SIGINT",
        StopTimeout: 3,
        HostConfig: {
          Binds: ["/tmp:/host:ro"],
          Tmpfs: { "/run": "size=1m" },
          CapAdd: ["NET_ADMIN"],
          Ulimits: [{ Name: "nofile", Soft: 10, Hard: 20 }],
          LogConfig: { Type: "json-file", Config: { "max-size": "1m", "max-file": "2" } },
          Memory: 1024,
          RestartPolicy: { Name: "always" },
          AutoRemove: false,
        },
      }),
    );
    const o = plan.options;
    expect(o.cmd).toEqual(["echo", "hi"]);
    expect(o.entrypoint).toEqual([]);
    expect(o.env).toEqual(["A=1"]);
    expect(o.workdir).toBe("/tmp");
    expect(o.user).toBe("1000:1000");
    expect(o.tty && o.openStdin && !o.autoRemove).toBe(true);
    expect(o.restart).toEqual({ name: "always", maximumRetryCount: 0 });
    expect(o.mounts).toEqual([
      { type: "bind", source: "/tmp", target: "/host", readOnly: true, options: [] },
      { type: "tmpfs", target: "/run", readOnly: false, options: ["size=1m"] },
    ]);
    expect(o.capAdd).toEqual(["NET_ADMIN"]);
    expect(o.ulimits).toEqual([{ name: "nofile", soft: 10, hard: 20 }]);
    expect(o.logMaxSize).toBe(1024 * 1024);
    expect(o.logMaxFiles).toBe(2);
    expect(o.stopSignal).toBe("SIGINT");
    expect(o.stopTimeout).toBe(3);
    expect(plan.warnings.length).toBe(1);
  });

  test("restart policy rules and healthcheck durations", () => {
    expect(() => planCreate(ContainerCreateSchema.parse({ Image: "x", HostConfig: { AutoRemove: true, RestartPolicy: { Name: "always" } } }))).toThrow(/AutoRemove/);
    expect(() => planCreate(ContainerCreateSchema.parse({ Image: "x", HostConfig: { RestartPolicy: { Name: "sometimes" } } }))).toThrow(/invalid restart policy/);
    const o = planCreate(ContainerCreateSchema.parse({ Image: "x", Healthcheck: { Test: ["CMD-SHELL", "true"], Interval: 2e9, Retries: 3 } })).options;
    expect(o.healthcheck).toEqual({ test: ["CMD-SHELL", "true"], intervalMs: 2000, retries: 3 });
    expect(planCreate(ContainerCreateSchema.parse({ Image: "x", Healthcheck: { Test: ["NONE"] } })).options.noHealthcheck).toBe(true);
  });

  test("a string Cmd is one argument (Docker's StrSlice)", () => {
    expect(planCreate(ContainerCreateSchema.parse({ Image: "x", Cmd: "echo hi" })).options.cmd).toEqual(["echo hi"]);
  });

  test("named and anonymous volumes become volume mounts; ports with --network none are refused", () => {
    const o = planCreate(ContainerCreateSchema.parse({ Image: "x", Volumes: { "/anon": {} }, HostConfig: { Binds: ["data:/data:ro"] } })).options;
    expect(o.mounts).toEqual([
      { type: "volume", source: "data", target: "/data", readOnly: true, options: [] },
      { type: "volume", target: "/anon", readOnly: false, options: [] },
    ]);
    expect(() => planCreate(ContainerCreateSchema.parse({ Image: "x", HostConfig: { NetworkMode: "none", PortBindings: { "80/tcp": [{ HostPort: "1" }] } } }))).toThrow(/published ports are discarded/);
  });
});

describe("query and header parsing", () => {
  test("Docker booleans", () => {
    expect(queryBool("1")).toBe(true);
    expect(queryBool("True")).toBe(true);
    expect(queryBool("0")).toBe(false);
    expect(queryBool("")).toBe(false);
    expect(queryBool(undefined, true)).toBe(true);
    expect(() => queryBool("maybe")).toThrow();
  });

  test("filters: list and legacy map forms", () => {
    expect(parseFilters('{"status":["running","exited"]}')).toEqual(new Map([["status", ["running", "exited"]]]));
    expect(parseFilters('{"dangling":{"true":true,"false":false}}')).toEqual(new Map([["dangling", ["true"]]]));
    expect(parseFilters(undefined).size).toBe(0);
    expect(() => parseFilters('{"a":1}')).toThrow(/invalid filters/);
  });

  test("X-Registry-Auth: base64url JSON, empty and {} mean anonymous", () => {
    const h = Buffer.from(JSON.stringify({ username: "u", password: "p?>", serveraddress: "r" })).toString("base64url");
    expect(parseRegistryAuth(h)).toMatchObject({ username: "u", password: "p?>" });
    expect(parseRegistryAuth("e30=")).toBeUndefined();
    expect(parseRegistryAuth("")).toBeUndefined();
    expect(() => parseRegistryAuth(Buffer.from("nope").toString("base64"))).toThrow();
  });

  test("parseJsonBody: empty body allowed only when asked", () => {
    expect(() => parseJsonBody("", ContainerCreateSchema)).toThrow(/empty/);
    expect(parseJsonBody("", ContainerCreateSchema.partial(), { emptyOk: true })).toEqual({});
  });
});
