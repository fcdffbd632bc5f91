/**
 * `skiff logs` and the json-file log on disk: streams kept apart, --tail,
 * -t, --since/--until, -f, Docker's line format and size-based rotation.
 * The compiled binary, real runc; CI runs it as root and rootless.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { Collector, containerFixture, containerSkipReason, until, type ContainerFixture } from "../helpers/containers.ts";

const skip = containerSkipReason();
if (skip) console.warn(`skipping logs tests: ${skip}`);

/** RFC 3339 with nanoseconds, as Docker's json-file and `logs -t`. */
const TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/;

let fx: ContainerFixture;

async function finished(name: string, script: string, flags: string[] = []): Promise<string> {
  const id = (await fx.env.ok(["run", "-d", "--name", name, ...flags, fx.image, "sh", "-c", script])).trim();
  await fx.env.ok(["wait", name]);
  return id;
}

function logLines(id: string, file = "ctr.log"): { log: string; stream: string; time: string }[] {
  return readFileSync(join(fx.dirs(id).container, file), "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { log: string; stream: string; time: string });
}

describe.skipIf(skip !== undefined)("logs", () => {
  beforeAll(async () => {
    fx = await containerFixture("logs");
  }, 120_000);

  afterAll(async () => {
    await fx?.close();
  });

  test("stdout and stderr come out on their own streams", async () => {
    await finished("streams", "echo out1; echo err1 >&2; echo out2; echo err2 >&2");
    const r = await fx.env.run(["logs", "streams"]);
    expect([r.code, r.stdout, r.stderr]).toEqual([0, "out1\nout2\n", "err1\nerr2\n"]);
  });

  test("the json-file log on disk: one {log, stream, time} object per line, partial lines kept", async () => {
    const id = await finished("ondisk", "echo out; echo err >&2; printf 'no newline'");
    const lines = logLines(id);
    const byStream = (s: string): string[] => lines.filter((l) => l.stream === s).map((l) => l.log);
    expect(byStream("stdout").join("")).toBe("out\nno newline");
    expect(byStream("stderr")).toEqual(["err\n"]);
    for (const l of lines) {
      expect(Object.keys(l).sort()).toEqual(["log", "stream", "time"]);
      expect(l.time).toMatch(TIMESTAMP);
    }
    expect(lines.map((l) => l.time)).toEqual([...lines.map((l) => l.time)].sort());
    expect((await fx.env.ok(["inspect", "-f", "{{.LogPath}}", "ondisk"])).trim()).toBe(join(fx.dirs(id).container, "ctr.log"));
    expect((await fx.env.ok(["logs", "ondisk"]))).toBe("out\nno newline");
  });

  test("--tail", async () => {
    await finished("tail", "for i in 1 2 3 4 5; do echo line$i; done");
    expect(await fx.env.ok(["logs", "--tail", "2", "tail"])).toBe("line4\nline5\n");
    expect(await fx.env.ok(["logs", "-n", "1", "tail"])).toBe("line5\n");
    expect(await fx.env.ok(["logs", "--tail", "0", "tail"])).toBe("");
    expect(await fx.env.ok(["logs", "--tail", "all", "tail"])).toBe("line1\nline2\nline3\nline4\nline5\n");
    expect(await fx.env.ok(["logs", "--tail", "10", "tail"])).toBe("line1\nline2\nline3\nline4\nline5\n");
    expect((await fx.env.run(["logs", "--tail", "many", "tail"])).code).toBe(125);
  });

  test("-t prefixes each line with its timestamp", async () => {
    await finished("stamps", "echo a; echo b >&2");
    const r = await fx.env.run(["logs", "-t", "stamps"]);
    const [ts, text] = r.stdout.trimEnd().split(" ");
    expect(ts).toMatch(TIMESTAMP);
    expect(text).toBe("a");
    expect(r.stderr).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z b\n$/);
  });

  test("--since and --until: timestamps, Unix seconds and durations", async () => {
    await finished("window", "echo early; sleep 1.2; echo late");
    const stamped = (await fx.env.ok(["logs", "-t", "window"])).trim().split("\n");
    const early = Date.parse(stamped[0]?.split(" ")[0] ?? "");
    const late = Date.parse(stamped[1]?.split(" ")[0] ?? "");
    expect(late - early).toBeGreaterThan(1000);
    const mid = new Date((early + late) / 2).toISOString();
    expect(await fx.env.ok(["logs", "--since", mid, "window"])).toBe("late\n");
    expect(await fx.env.ok(["logs", "--until", mid, "window"])).toBe("early\n");
    expect(await fx.env.ok(["logs", "--since", String((early + late) / 2000), "window"])).toBe("late\n");
    expect(await fx.env.ok(["logs", "--since", "1h", "window"])).toBe("early\nlate\n");
    expect(await fx.env.ok(["logs", "--since", "2000-01-01", "--until", "2000-01-02", "window"])).toBe("");
    const bad = await fx.env.run(["logs", "--since", "yesterday-ish", "window"]);
    expect(bad.code).toBe(125);
    expect(bad.stderr.trim().split("\n")).toHaveLength(1);
  });

  test("-f follows until the container exits", async () => {
    await fx.env.ok(["run", "-d", "--name", "follow", fx.image, "sh", "-c", "echo one; sleep 1; echo two >&2; sleep 1.5; echo three"]);
    const t = Date.now();
    const p = fx.spawn(["logs", "-f", "follow"]);
    const out = new Collector(p.stdout);
    const err = new Collector(p.stderr);
    await out.waitFor("one\n");
    await err.waitFor("two\n", 5000);
    expect(out.text).not.toContain("three");
    expect(await p.exited).toBe(0);
    await Promise.all([out.done, err.done]);
    expect(out.text).toBe("one\nthree\n");
    expect(err.text).toBe("two\n");
    expect(Date.now() - t).toBeLessThan(8000);
    // On an exited container -f returns at once.
    const again = await fx.env.run(["logs", "-f", "follow"], { timeoutMs: 5000 });
    expect([again.code, again.stdout]).toEqual([0, "one\nthree\n"]);
  });

  test("-f with --tail shows the last lines, then new ones", async () => {
    await fx.env.ok(["run", "-d", "--name", "follow-tail", fx.image, "sh", "-c", "echo a; echo b; echo c; sleep 2; echo d"]);
    await until(async () => (await fx.env.ok(["logs", "follow-tail"])) === "a\nb\nc\n");
    const r = await fx.env.run(["logs", "-f", "--tail", "1", "follow-tail"], { timeoutMs: 10_000 });
    expect([r.code, r.stdout]).toEqual([0, "c\nd\n"]);
  });

  test("rotation by size: --log-opt max-size=1k --log-opt max-file=2", async () => {
    const id = await finished("rotate", "i=0; while [ $i -lt 200 ]; do echo line-$i-padding-padding; i=$((i+1)); done", [
      "--log-opt",
      "max-size=1k",
      "--log-opt",
      "max-file=2",
    ]);
    const dir = fx.dirs(id).container;
    expect(existsSync(join(dir, "ctr.log"))).toBe(true);
    expect(existsSync(join(dir, "ctr.log.1"))).toBe(true);
    expect(existsSync(join(dir, "ctr.log.2"))).toBe(false);
    for (const f of ["ctr.log", "ctr.log.1"]) expect(statSync(join(dir, f)).size).toBeLessThanOrEqual(1024 + 256);
    // What is kept is the end of the output, in order and without gaps.
    const shown = (await fx.env.ok(["logs", "rotate"])).trim().split("\n");
    expect(shown.length).toBeGreaterThan(5);
    expect(shown.length).toBeLessThan(200);
    expect(shown[shown.length - 1]).toBe("line-199-padding-padding");
    const first = Number(shown[0]?.split("-")[1]);
    expect(shown).toEqual(shown.map((_, i) => `line-${first + i}-padding-padding`));
    const logConfig = JSON.parse(await fx.env.ok(["inspect", "-f", "{{json .HostConfig.LogConfig}}", "rotate"]));
    expect(logConfig.Type).toBe("json-file");
    expect(logConfig.Config["max-file"]).toBe("2");
  });

  test("a bad --log-opt is refused before anything is created", async () => {
    const r = await fx.env.run(["run", "--rm", "--log-opt", "max-file=0", fx.image, "true"]);
    expect(r.code).toBe(125);
    const unknown = await fx.env.run(["run", "--rm", "--log-opt", "colour=blue", fx.image, "true"]);
    expect(unknown.code).toBe(125);
  });
});
