/**
 * Human units as Docker prints and parses them (github.com/docker/go-units
 * semantics): sizes (`119MB`, `1.5MiB`), durations (`About a minute`) and
 * Go's time.ParseDuration syntax (`1m30s`).
 */
import { SkiffError } from "../../errors.ts";
import { formatFloat } from "../template/fmt.ts";

const DECIMAL_UNITS = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
const BINARY_UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];

function scaled(size: number, base: number, units: string[], precision: number): string {
  let i = 0;
  while (size >= base && i < units.length - 1) {
    size /= base;
    i++;
  }
  return `${formatFloat(size, "g", precision)}${units[i]}`;
}

/**
 * Decimal size with `precision` significant digits (go-units HumanSizeWithPrecision;
 * Docker's image and container lists use 3): 1234 → `1.23kB`, 119e6 → `119MB`.
 */
export function humanSize(bytes: number, precision = 3): string {
  return scaled(bytes, 1000, DECIMAL_UNITS, precision);
}

/** Binary size with 4 significant digits (go-units BytesSize): 1572864 → `1.5MiB`. */
export function bytesSize(bytes: number): string {
  return scaled(bytes, 1024, BINARY_UNITS, 4);
}

const BINARY_MULTIPLIERS: Record<string, number> = { k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40, p: 2 ** 50 };

/**
 * Parses a size with binary units, case-insensitive, optional `b`/`ib` suffix and one
 * optional space (go-units RAMInBytes): `512m` → 536870912, `1.5 GiB`, `100` → 100.
 */
export function parseSize(text: string): number {
  const bad = (what: string): never => {
    throw new SkiffError("InvalidArgument", `invalid ${what}: '${text}'`);
  };
  let num: string;
  let suffix: string;
  const space = text.indexOf(" ");
  if (space >= 0) {
    num = text.slice(0, space);
    suffix = text.slice(space + 1);
  } else {
    const m = /^(.*[0-9.])(.*)$/s.exec(text);
    if (!m) return bad("size");
    num = m[1] ?? "";
    suffix = m[2] ?? "";
  }
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(num)) return bad("size");
  let size = Number(num);
  if (size < 0) return bad("size");
  const sfx = suffix.toLowerCase();
  if (sfx.length > 3) return bad("size");
  if (sfx === "" || sfx === "b") return Math.trunc(size);
  const mul = BINARY_MULTIPLIERS[sfx[0] ?? ""];
  if (mul === undefined) return bad("size");
  if ((sfx.length === 2 && sfx !== `${sfx[0]}b`) || (sfx.length === 3 && !sfx.endsWith("ib"))) return bad("size");
  size *= mul;
  return Math.trunc(size);
}

/**
 * A duration as go-units HumanDuration writes it: `Less than a second`, `1 second`,
 * `About a minute`, `5 minutes`, `About an hour`, `3 hours`, `2 days`, `3 weeks`,
 * `4 months`, `2 years`.
 */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < 1) return "Less than a second";
  if (seconds === 1) return "1 second";
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.trunc(ms / 60_000);
  if (minutes === 1) return "About a minute";
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.trunc(ms / 3_600_000 + 0.5);
  if (hours === 1) return "About an hour";
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.trunc(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.trunc(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24 / 30)} months`;
  return `${Math.trunc(Math.trunc(ms / 3_600_000) / 24 / 365)} years`;
}

function toMillis(t: Date | number | string): number {
  return t instanceof Date ? t.getTime() : typeof t === "number" ? t : Date.parse(t);
}

/** `5 minutes ago`, as Docker's CREATED column (`now` defaults to the clock). */
export function timeAgo(date: Date | number | string, now: Date | number = Date.now()): string {
  return `${humanDuration(toMillis(now) - toMillis(date))} ago`;
}

const NS_PER_UNIT: Record<string, number> = {
  ns: 1, us: 1e3, "µs": 1e3, "μs": 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9,
};
const MAX_NS = 2 ** 63 - 1;

/**
 * Go's time.ParseDuration, in milliseconds: `1m30s` → 90000, `1.5h`, `250ms`, `-2s`,
 * `0`. Every number needs a unit: ns, us (µs), ms, s, m, h.
 */
export function parseDuration(text: string): number {
  const quoted = JSON.stringify(text);
  const invalid = (msg = `invalid duration ${quoted}`): never => {
    throw new SkiffError("InvalidArgument", msg);
  };
  let s = text;
  let neg = false;
  if (s.startsWith("-") || s.startsWith("+")) {
    neg = s.startsWith("-");
    s = s.slice(1);
  }
  if (s === "0") return 0;
  if (s === "") return invalid();
  let ns = 0;
  while (s !== "") {
    const m = /^(\d*)(?:\.(\d*))?/.exec(s);
    const whole = m?.[1] ?? "";
    const frac = m?.[2];
    if (whole === "" && (frac === undefined || frac === "")) return invalid();
    s = s.slice(m?.[0].length ?? 0);
    const unitLen = /^[^0-9.]*/.exec(s)?.[0].length ?? 0;
    if (unitLen === 0) return invalid(`missing unit in duration ${quoted}`);
    const unit = s.slice(0, unitLen);
    s = s.slice(unitLen);
    const mult = NS_PER_UNIT[unit];
    if (mult === undefined) return invalid(`unknown unit ${JSON.stringify(unit)} in duration ${quoted}`);
    ns += Number(whole || "0") * mult + Math.trunc(Number(`0.${frac || "0"}`) * mult);
    if (ns > MAX_NS) return invalid();
  }
  const ms = ns / 1e6;
  return neg ? -ms : ms;
}
