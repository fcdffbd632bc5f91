/**
 * Resource flags of `run`, `create` and `update` (`--memory`, `--cpus`,
 * `--pids-limit`...), parsed as the docker CLI parses them: sizes with binary
 * units (`64m`), `--memory-swap -1`, `--cpus` as an exact decimal (at most
 * nine fractional digits).
 */
import type { Command } from "commander";
import { SkiffError } from "../errors.ts";
import { noResources, validateResources, type Resources } from "../containers/resources.ts";
import { parseSize } from "./render/units.ts";

export interface ResourceFlags {
  memory?: string;
  memorySwap?: string;
  memoryReservation?: string;
  cpus?: string;
  cpuShares?: string;
  cpuPeriod?: string;
  cpuQuota?: string;
  cpusetCpus?: string;
  cpusetMems?: string;
  pidsLimit?: string;
  oomKillDisable?: boolean;
  blkioWeight?: string;
}

/** Registers the flags on a command (`update` has no --oom-kill-disable, as Docker). */
export function addResourceFlags(cmd: Command, opts: { update?: boolean } = {}): Command {
  cmd
    .option("-m, --memory <bytes>", "memory limit")
    .option("--memory-swap <bytes>", "swap limit equal to memory plus swap: '-1' to enable unlimited swap")
    .option("--memory-reservation <bytes>", "memory soft limit")
    .option("--cpus <number>", "number of CPUs")
    .option("-c, --cpu-shares <int>", "CPU shares (relative weight)")
    .option("--cpu-period <int>", "limit CPU CFS (Completely Fair Scheduler) period")
    .option("--cpu-quota <int>", "limit CPU CFS (Completely Fair Scheduler) quota")
    .option("--cpuset-cpus <list>", "CPUs in which to allow execution (0-3, 0,1)")
    .option("--cpuset-mems <list>", "MEMs in which to allow execution (0-3, 0,1)")
    .option("--pids-limit <int>", "tune container pids limit (set -1 for unlimited)")
    .option("--blkio-weight <int>", "block IO (relative weight), between 10 and 1000, or 0 to disable");
  if (!opts.update) cmd.option("--oom-kill-disable", "disable OOM Killer");
  return cmd;
}

function invalid(value: string, flag: string, why: string): SkiffError {
  return new SkiffError("InvalidArgument", `invalid argument ${JSON.stringify(value)} for "${flag}" flag: ${why}`);
}

function int(value: string, flag: string, range: { min?: number; max?: number } = {}): number {
  if (!/^[+-]?\d+$/.test(value.trim())) throw invalid(value, flag, "invalid syntax");
  const n = Number(value.trim());
  if (!Number.isSafeInteger(n) || (range.min !== undefined && n < range.min) || (range.max !== undefined && n > range.max)) {
    throw invalid(value, flag, "value out of range");
  }
  return n;
}

function size(value: string, flag: string): number {
  try {
    return parseSize(value);
  } catch {
    throw invalid(value, flag, `invalid size: '${value}'`);
  }
}

/**
 * `--cpus` → nano-CPUs, exactly (Docker's big.Rat parse): `1.5` → 1500000000;
 * more than nine fractional digits is "value is too precise".
 */
export function parseCpus(value: string): number {
  const m = /^\+?(\d*)(?:\.(\d*))?$/.exec(value.trim());
  if (!m || (m[1] === "" && (m[2] ?? "") === "")) throw invalid(value, "--cpus", `failed to parse ${value} as a rational number`);
  const frac = (m[2] ?? "").replace(/0+$/, "");
  if (frac.length > 9) throw invalid(value, "--cpus", "value is too precise");
  const nano = Number(m[1] || "0") * 1e9 + Number(frac.padEnd(9, "0") || "0");
  if (!Number.isSafeInteger(nano)) throw invalid(value, "--cpus", "value out of range");
  return nano;
}

/** Only the fields whose flags were given; `pidsLimit` ≤ 0 means "no limit". */
export function resourceChange(flags: ResourceFlags): Partial<Resources> {
  const out: Partial<Resources> = {};
  if (flags.memory !== undefined) out.memory = size(flags.memory, "--memory");
  if (flags.memorySwap !== undefined) out.memorySwap = flags.memorySwap.trim() === "-1" ? -1 : size(flags.memorySwap, "--memory-swap");
  if (flags.memoryReservation !== undefined) out.memoryReservation = size(flags.memoryReservation, "--memory-reservation");
  if (flags.cpus !== undefined) out.nanoCpus = parseCpus(flags.cpus);
  if (flags.cpuShares !== undefined) {
    // dockerd turns a negative weight into the minimum, 2.
    const shares = int(flags.cpuShares, "--cpu-shares");
    out.cpuShares = shares < 0 ? 2 : shares;
  }
  if (flags.cpuPeriod !== undefined) out.cpuPeriod = int(flags.cpuPeriod, "--cpu-period", { min: 0 });
  if (flags.cpuQuota !== undefined) out.cpuQuota = int(flags.cpuQuota, "--cpu-quota", { min: -1 });
  if (flags.cpusetCpus !== undefined) out.cpusetCpus = flags.cpusetCpus;
  if (flags.cpusetMems !== undefined) out.cpusetMems = flags.cpusetMems;
  if (flags.pidsLimit !== undefined) out.pidsLimit = int(flags.pidsLimit, "--pids-limit");
  if (flags.oomKillDisable) out.oomKillDisable = true;
  if (flags.blkioWeight !== undefined) out.blkioWeight = int(flags.blkioWeight, "--blkio-weight", { min: 0, max: 65535 });
  return out;
}

/** `run`/`create`: the container's resources, checked with Docker's rules. */
export function resourcesFromFlags(flags: ResourceFlags): Resources {
  const change = resourceChange(flags);
  const r: Resources = { ...noResources(), ...change };
  if (r.pidsLimit !== undefined && r.pidsLimit <= 0) delete r.pidsLimit;
  return validateResources(r);
}
