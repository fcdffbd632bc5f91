/**
 * Template functions: Go's builtins (and, or, not, len, index, slice, print,
 * printf, println, eq, ne, lt, le, gt, ge) and the ones Docker adds (json,
 * split, join, title, lower, upper, pad, truncate).
 */
import { formatValue, goTypeName, isPlainObject, isStringer, sprint, sprintf, sprintln } from "./fmt.ts";

export type TemplateFunc = (...args: unknown[]) => unknown;
/** A function with its arity, checked before the call as Go does by reflection. */
export type FuncSpec = { fn: TemplateFunc; min: number; max: number; lazy?: "and" | "or" };

/** An argument of the wrong type: reported without the `error calling` prefix. */
export class TemplateArgError extends Error {}

/** Go's truth: false, 0, nil and empty strings, arrays and maps are false. */
export function truth(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === "" || v === 0n) return false;
  if (Number.isNaN(v)) return true;
  if (Array.isArray(v)) return v.length > 0;
  if (v instanceof Map) return v.size > 0;
  if (isPlainObject(v)) return Object.keys(v).length > 0;
  return true;
}

export function argString(v: unknown): string {
  if (typeof v === "string") return v;
  if (isStringer(v)) return String(v);
  throw new TemplateArgError(`wrong type for value; expected string; got ${goTypeName(v)}`);
}

function argInt(v: unknown): number {
  if (typeof v === "number" && Number.isInteger(v)) return v;
  throw new TemplateArgError(`wrong type for value; expected int; got ${goTypeName(v)}`);
}

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

/** JSON as Go's encoding/json writes it with HTML escaping off (Docker's `json` function). */
export function toGoJson(v: unknown, indent?: string): string {
  const s = JSON.stringify(v === undefined ? null : v, (_k, x: unknown) => {
    if (x instanceof Map) return Object.fromEntries(x);
    if (x instanceof Set) return [...x];
    if (typeof x === "bigint") return Number(x);
    if (isStringer(x) && typeof (x as { toJSON?: unknown }).toJSON !== "function") return String(x);
    return x;
  }, indent);
  return (s ?? "null").replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}

type Kind = "nil" | "bool" | "number" | "string" | "other";
function basicKind(v: unknown): Kind {
  if (v === null || v === undefined) return "nil";
  if (typeof v === "boolean") return "bool";
  if (typeof v === "number") return "number";
  if (typeof v === "string") return "string";
  return "other";
}

function eq(a: unknown, ...rest: unknown[]): boolean {
  if (rest.length === 0) throw new Error("missing argument for comparison");
  const ka = basicKind(a);
  for (const b of rest) {
    const kb = basicKind(b);
    if (ka === "nil" || kb === "nil") {
      if (ka === kb) return true;
      continue;
    }
    if (ka !== kb) throw new Error("incompatible types for comparison");
    if (ka === "other") throw new Error(`non-comparable type ${goTypeName(a)}`);
    if (a === b) return true;
  }
  return false;
}

function lt(a: unknown, b: unknown): boolean {
  const ka = basicKind(a);
  const kb = basicKind(b);
  if (ka !== "number" && ka !== "string") throw new Error("invalid type for comparison");
  if (kb !== "number" && kb !== "string") throw new Error("invalid type for comparison");
  if (ka !== kb) throw new Error("incompatible types for comparison");
  return (a as number | string) < (b as number | string);
}

/** For `index` on a missing key: "" when the map looks like map[string]string, else nil. */
function zeroOfMap(values: unknown[]): unknown {
  return values.every((x) => typeof x === "string") ? "" : undefined;
}

function index(item: unknown, ...keys: unknown[]): unknown {
  let v = item;
  for (const k of keys) {
    if (v === null || v === undefined) throw new Error("index of untyped nil");
    if (Array.isArray(v) || typeof v === "string") {
      if (typeof k !== "number" || !Number.isInteger(k)) throw new Error(`cannot index slice/array with type ${goTypeName(k)}`);
      const seq: ArrayLike<unknown> = typeof v === "string" ? utf8.encode(v) : v;
      if (k < 0 || k >= seq.length) throw new Error(`index out of range: ${k}`);
      v = seq[k];
    } else if (v instanceof Map) {
      v = v.has(k) ? v.get(k) : zeroOfMap([...v.values()]);
    } else if (isPlainObject(v)) {
      if (typeof k !== "string") throw new Error(`value has type ${goTypeName(k)}; should be string`);
      v = Object.hasOwn(v, k) ? v[k] : zeroOfMap(Object.values(v));
    } else throw new Error(`can't index item of type ${goTypeName(v)}`);
  }
  return v;
}

function slice(item: unknown, ...idx: unknown[]): unknown {
  if (typeof item !== "string" && !Array.isArray(item)) throw new Error(`can't slice item of type ${goTypeName(item)}`);
  if (typeof item === "string" && idx.length > 2) throw new Error("cannot 3-index slice a string");
  if (idx.length > 3) throw new Error(`too many slice indexes: ${idx.length}`);
  const seq = typeof item === "string" ? utf8.encode(item) : item;
  const n = idx.map((x) => {
    if (typeof x !== "number" || !Number.isInteger(x)) throw new Error(`cannot index slice/array with type ${goTypeName(x)}`);
    if (x < 0 || x > seq.length) throw new Error(`index out of range: ${x}`);
    return x;
  });
  const [lo = 0, hi = seq.length] = n;
  if (lo > hi) throw new Error(`invalid slice index: ${lo} > ${hi}`);
  if (n[2] !== undefined && hi > n[2]) throw new Error(`invalid slice index: ${hi} > ${n[2]}`);
  const part = seq.slice(lo, hi);
  return typeof item === "string" ? utf8Decoder.decode(part as Uint8Array) : part;
}

function len(v: unknown): number {
  if (typeof v === "string") return utf8.encode(v).length;
  if (Array.isArray(v)) return v.length;
  if (v instanceof Map) return v.size;
  if (isPlainObject(v)) return Object.keys(v).length;
  throw new Error(`len of type ${goTypeName(v)}`);
}

/** strings.Title: upper-cases letters that follow a separator. */
function title(s: string): string {
  let prev = " ";
  let out = "";
  for (const ch of s) {
    const sep = /^[\x00-\x7f]$/.test(prev) ? !/^[A-Za-z0-9_]$/.test(prev) : !/^[\p{L}\p{Nd}]$/u.test(prev) && /^\s$/u.test(prev);
    out += sep ? ch.toUpperCase() : ch;
    prev = ch;
  }
  return out;
}

function spec(fn: TemplateFunc, min: number, max = min): FuncSpec {
  return { fn, min, max };
}

const VARIADIC = Number.POSITIVE_INFINITY;

export const BUILTINS: Readonly<Record<string, FuncSpec>> = {
  // and/or are evaluated lazily by the executor; these bodies serve direct calls only.
  and: { ...spec((...a) => a.find((x) => !truth(x)) ?? a[a.length - 1], 1, VARIADIC), lazy: "and" },
  or: { ...spec((...a) => a.find((x) => truth(x)) ?? a[a.length - 1], 1, VARIADIC), lazy: "or" },
  not: spec((a) => !truth(a), 1),
  len: spec(len, 1),
  index: spec((item, ...keys) => index(item, ...keys), 1, VARIADIC),
  slice: spec((item, ...idx) => slice(item, ...idx), 1, VARIADIC),
  print: spec((...a) => sprint(a), 0, VARIADIC),
  printf: spec((f, ...a) => sprintf(argString(f), a), 1, VARIADIC),
  println: spec((...a) => sprintln(a), 0, VARIADIC),
  eq: spec((a, ...rest) => eq(a, ...rest), 1, VARIADIC),
  ne: spec((a, b) => !eq(a, b), 2),
  lt: spec((a, b) => lt(a, b), 2),
  le: spec((a, b) => lt(a, b) || eq(a, b), 2),
  gt: spec((a, b) => !lt(a, b) && !eq(a, b), 2),
  ge: spec((a, b) => !lt(a, b), 2),
};

export const DOCKER_FUNCS: Readonly<Record<string, FuncSpec>> = {
  json: spec((v) => toGoJson(v), 1),
  split: spec((s, sep) => {
    const str = argString(s);
    const by = argString(sep);
    return by === "" ? [...str] : str.split(by);
  }, 2),
  join: spec((a, sep) => {
    if (!Array.isArray(a)) throw new TemplateArgError(`wrong type for value; expected []string; got ${goTypeName(a)}`);
    return a.map(formatValue).join(argString(sep));
  }, 2),
  title: spec((s) => title(argString(s)), 1),
  lower: spec((s) => argString(s).toLowerCase(), 1),
  upper: spec((s) => argString(s).toUpperCase(), 1),
  pad: spec((s, prefix, suffix) => {
    const str = argString(s);
    return str === "" ? str : " ".repeat(Math.max(argInt(prefix), 0)) + str + " ".repeat(Math.max(argInt(suffix), 0));
  }, 3),
  truncate: spec((s, n) => {
    const chars = [...argString(s)];
    const length = argInt(n);
    return chars.length < length ? chars.join("") : chars.slice(0, Math.max(length, 0)).join("");
  }, 2),
};

/** Functions for rendering table headers: Docker keeps the header text intact. */
function same(v: unknown): unknown {
  return v;
}
export const HEADER_FUNCS: Readonly<Record<string, TemplateFunc>> = {
  json: same, split: same, join: same, title: same, lower: same, upper: same, truncate: same, index: same,
};
