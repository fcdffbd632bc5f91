/**
 * Several skiff processes at once, with no daemon to serialise them: many
 * `run -d` together, a name contested by two runs, and verbs racing on one
 * container without corrupting its record. CI runs it as root and rootless.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { containerFixture, containerSkipReason, leftovers, processesMentioning, runcStates, until, type ContainerFixture } from "../helpers/containers.ts";
import type { RunResult } from "../helpers/skiff.ts";

const skip = containerSkipReason();
if (skip) console.warn(`skipping concurrency tests: ${skip}`);

let fx: ContainerFixture;

/** A failure is a clean one: one "Error:" line, no stack trace, a documented code. */
function expectCleanFailure(r: RunResult, codes: number[]): void {
  expect(codes).toContain(r.code);
  expect(r.stderr).toStartWith("Error: ");
  expect(r.stderr).not.toContain("    at ");
}

/** Every record file of every container parses. */
function recordsParse(): string[] {
  const bad: string[] = [];
  const dir = join(fx.env.root, "containers");
  for (const id of readdirSync(dir).filter((n) => /^[a-f0-9]{64}$/.test(n))) {
    for (const f of ["config.json", "state.json"]) {
      const p = join(dir, id, f);
      if (!existsSync(p)) continue;
      try {
        JSON.parse(readFileSync(p, "utf8"));
      } catch (e) {
        bad.push(`${p}: ${(e as Error).message}`);
      }
    }
  }
  return bad;
}

describe.skipIf(skip !== undefined)("concurrency", () => {
  beforeAll(async () => {
    fx = await containerFixture("concurrency");
  }, 120_000);

  afterAll(async () => {
    await fx?.close();
  });

  test("20 run -d at once: all start, with distinct ids and names; 20 rm -f at once remove them all", async () => {
    const runs = await Promise.all(Array.from({ length: 20 }, () => fx.env.run(["run", "-d", fx.image, "sleep", "300"])));
    for (const r of runs) expect([r.code, r.stderr]).toEqual([0, ""]);
    const ids = runs.map((r) => r.stdout.trim());
    expect(new Set(ids).size).toBe(20);
    const rows = (await fx.env.ok(["ps", "--no-trunc", "--format", "{{.ID}} {{.Names}} {{.State}}"])).trim().split("\n");
    expect(rows).toHaveLength(20);
    expect(new Set(rows.map((r) => r.split(" ")[1])).size).toBe(20);
    for (const r of rows) expect(r).toEndWith(" running");
    expect(rows.map((r) => r.split(" ")[0]).sort()).toEqual([...ids].sort());
    const pids = ids.map((id) => {
      const s = fx.state(id);
      return { pid: s.pid as number, pidStart: s.pidStart as number, shimPid: s.shimPid as number, shimStart: s.shimStart as number };
    });
    const rms = await Promise.all(ids.map((id) => fx.env.run(["rm", "-f", id])));
    for (const r of rms) expect([r.code, r.stderr]).toEqual([0, ""]);
    expect((await fx.env.ok(["ps", "-aq"])).trim()).toBe("");
    const left = ids.flatMap((id, i) => leftovers(fx, id, pids[i] ?? {}));
    expect(left).toEqual([]);
  }, 60_000);

  test("two runs with the same name at once: exactly one wins, the other gets a conflict (125)", async () => {
    for (let round = 0; round < 5; round++) {
      const name = `contested-${round}`;
      const [a, b] = await Promise.all([
        fx.env.run(["run", "-d", "--name", name, fx.image, "sleep", "300"]),
        fx.env.run(["run", "-d", "--name", name, fx.image, "sleep", "300"]),
      ]);
      const results = [a, b] as RunResult[];
      const winners = results.filter((r) => r.code === 0);
      const losers = results.filter((r) => r.code !== 0);
      expect(winners).toHaveLength(1);
      expect(losers).toHaveLength(1);
      expectCleanFailure(losers[0] as RunResult, [125]);
      expect(losers[0]?.stderr).toContain(`"/${name}" is already in use`);
      expect(losers[0]?.stdout).toBe("");
      const listed = (await fx.env.ok(["ps", "-a", "--no-trunc", "--filter", `name=^${name}$`, "--format", "{{.ID}}"])).trim();
      expect(listed).toBe(winners[0]?.stdout.trim() ?? "winner");
    }
    // The losers left no half-made container behind.
    const dirs = readdirSync(join(fx.env.root, "containers")).filter((n) => /^[a-f0-9]{64}$/.test(n));
    expect(dirs).toHaveLength(5);
    await fx.env.ok(["rm", "-f", ...Array.from({ length: 5 }, (_, i) => `contested-${i}`)]);
  }, 60_000);

  test("start, stop, kill, inspect and rm racing on one container never corrupt its record", async () => {
    for (let round = 0; round < 3; round++) {
      const id = (await fx.env.ok(["run", "-d", "--name", "raced", fx.image, "sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.1; done"])).trim();
      const s = fx.state(id);
      const pids = { pid: s.pid as number, pidStart: s.pidStart as number, shimPid: s.shimPid as number, shimStart: s.shimStart as number };
      const ops: Promise<RunResult>[] = [];
      for (let i = 0; i < 4; i++) ops.push(fx.env.run(["inspect", "-f", "{{.State.Status}}", "raced"]));
      for (let i = 0; i < 3; i++) ops.push(fx.env.run(["stop", "-t", "1", "raced"]));
      ops.push(fx.env.run(["kill", "raced"]));
      ops.push(fx.env.run(["start", "raced"]));
      ops.push(fx.env.run(["ps", "-a"]));
      const results = await Promise.all(ops);
      for (const r of results) {
        if (r.code !== 0) expectCleanFailure(r, [1, 2, 125]);
      }
      expect(recordsParse()).toEqual([]);
      // Whatever order they ran in, the record still reads and the verbs still work.
      const st = (await fx.env.ok(["inspect", "-f", "{{.State.Status}}", "raced"])).trim();
      expect(["running", "exited"]).toContain(st);
      const [rmA, rmB, insp] = await Promise.all([
        fx.env.run(["rm", "-f", "raced"]),
        fx.env.run(["rm", "-f", "raced"]),
        fx.env.run(["inspect", "raced"]),
      ]);
      expect([rmA?.code, rmB?.code]).toContain(0);
      for (const r of [rmA, rmB, insp] as RunResult[]) if (r.code !== 0) expectCleanFailure(r, [1, 2, 125]);
      expect(recordsParse()).toEqual([]);
      expect((await fx.env.run(["inspect", "raced"])).code).not.toBe(0);
      expect(await until(() => leftovers(fx, id, pids).length === 0, 5000)).toBe(true);
    }
  }, 60_000);

  test("two starts of one container at once give one running container, one shim", async () => {
    const id = (await fx.env.ok(["create", "--name", "double-start", fx.image, "sleep", "300"])).trim();
    const [a, b] = await Promise.all([fx.env.run(["start", "double-start"]), fx.env.run(["start", "double-start"])]);
    expect([a.code, b.code]).toEqual([0, 0]);
    expect((await fx.env.ok(["inspect", "-f", "{{.State.Status}}", "double-start"])).trim()).toBe("running");
    // One shim (its command line names the container's run directory) and one runtime state.
    expect(processesMentioning(`${fx.dirs(id).run}/shim.json`)).toHaveLength(1);
    expect(runcStates(fx.env.runRoot).filter((x) => x === id)).toHaveLength(1);
    await fx.env.ok(["rm", "-f", "double-start"]);
  });
});
