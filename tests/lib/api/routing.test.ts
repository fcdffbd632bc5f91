/** Routing, version prefixes, negotiation headers and error shapes, through app.request. */
import { afterAll, describe, expect, test } from "bun:test";
import { API_VERSION, MIN_API_VERSION } from "../../../lib/version.ts";
import { json, testApi } from "./helpers.ts";

const api = testApi();
afterAll(() => api.close());

describe("ping and version negotiation", () => {
  test("GET /_ping answers OK with Docker's negotiation headers", async () => {
    const res = await api.app.request("/_ping");
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("OK");
    expect(res.headers.get("Api-Version")).toBe(API_VERSION);
    expect(res.headers.get("Ostype")).toBe("linux");
    expect(res.headers.get("Builder-Version")).toBe("1");
    expect(res.headers.get("Docker-Experimental")).toBe("false");
  });

  test("HEAD /_ping has the headers and no body", async () => {
    const res = await api.app.request("/_ping", { method: "HEAD" });
    expect(res.status).toBe(200);
    expect(res.headers.get("Api-Version")).toBe(API_VERSION);
    expect(await res.text()).toBe("");
  });

  test("API_VERSION is 1.44 or newer", () => {
    const [major, minor] = API_VERSION.split(".").map(Number) as [number, number];
    expect(major === 1 && minor >= 44).toBe(true);
  });

  test("versioned and unversioned paths reach the same route", async () => {
    for (const p of ["/version", `/v${API_VERSION}/version`, "/v1.40/version", `/v${MIN_API_VERSION}/version`]) {
      const res = await api.app.request(p);
      expect(res.status).toBe(200);
      const body = await json(res);
      expect(body.ApiVersion).toBe(API_VERSION);
      expect(body.MinAPIVersion).toBe(MIN_API_VERSION);
      expect(body.Os).toBe("linux");
    }
  });

  test("a version above ours is refused with Docker's message", async () => {
    const res = await api.app.request("/v1.99/version");
    expect(res.status).toBe(400);
    expect(await json(res)).toEqual({ message: `client version 1.99 is too new. Maximum supported API version is ${API_VERSION}` });
  });

  test("a version below the minimum is refused", async () => {
    const res = await api.app.request("/v1.12/containers/json");
    expect(res.status).toBe(400);
    expect(String((await json(res)).message)).toContain("client version 1.12 is too old");
  });

  test("every response carries Api-Version and Server", async () => {
    const res = await api.app.request("/containers/json");
    expect(res.headers.get("Api-Version")).toBe(API_VERSION);
    expect(res.headers.get("Server")).toContain("skiff");
  });
});

describe("error shapes", () => {
  test("unknown routes are 404 with a JSON message", async () => {
    const res = await api.app.request("/v1.44/nonsense");
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toContain("application/json");
    expect(await json(res)).toEqual({ message: "page not found" });
  });

  test("a missing container is 404 {message}", async () => {
    const res = await api.app.request("/v1.44/containers/nosuch/json");
    expect(res.status).toBe(404);
    expect(await json(res)).toEqual({ message: "no such container: nosuch" });
  });

  test("a missing image is 404, which makes the docker CLI pull", async () => {
    const res = await api.app.request("/images/nosuch:1/json");
    expect(res.status).toBe(404);
    expect(String((await json(res)).message)).toContain("no such image");
  });

  test("a missing exec instance is 404", async () => {
    const res = await api.app.request("/exec/abc/json");
    expect(res.status).toBe(404);
    expect(String((await json(res)).message)).toContain("no such exec instance");
  });

  test("bad query values are 400", async () => {
    const res = await api.app.request("/containers/json?all=maybe");
    expect(res.status).toBe(400);
    const f = await api.app.request("/containers/json?filters=%7Bnot-json");
    expect(f.status).toBe(400);
    const k = await api.app.request(`/containers/json?filters=${encodeURIComponent(JSON.stringify({ color: ["red"] }))}`);
    expect(k.status).toBe(400);
    expect(await json(k)).toEqual({ message: "invalid filter 'color'" });
  });

  test("unsupported features are 501 with a clear message", async () => {
    const res = await api.app.request("/build", { method: "POST", body: "" });
    expect(res.status).toBe(501);
    expect(String((await json(res)).message)).toContain("not supported by skiff yet");
  });
});

describe("lists on an empty store", () => {
  test("containers, images, volumes, networks", async () => {
    expect(await (await api.app.request("/containers/json?all=1")).json()).toEqual([]);
    expect(await (await api.app.request("/images/json")).json()).toEqual([]);
    expect(await (await api.app.request("/volumes")).json()).toEqual({ Volumes: [], Warnings: null });
    const nets = (await (await api.app.request("/networks")).json()) as { Name: string }[];
    expect(nets.map((n) => n.Name)).toEqual(["bridge", "host", "none"]);
  });
});
