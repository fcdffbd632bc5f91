/**
 * The parts of Go's fmt and strconv that templates need: `%v` printing of
 * JSON-shaped values, `printf` verbs, and float formatting with Go's rounding
 * (exact decimal expansion, ties to even), so `%.3g` matches go-units.
 */

/** Decimal digits without leading or trailing zeros: value = 0.d × 10^dp. */
type Digits = { d: string; dp: number };

function trimDigits(d: string, dp: number): Digits {
  const t = d.replace(/0+$/, "");
  return t === "" ? { d: "", dp: 0 } : { d: t, dp };
}

/** The exact decimal expansion of a finite double > 0. */
function exactDigits(x: number): Digits {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  const bexp = (hi >>> 20) & 0x7ff;
  let mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  let e = -1074;
  if (bexp !== 0) {
    mant |= 1n << 52n;
    e = bexp - 1075;
  }
  if (e >= 0) {
    const s = (mant << BigInt(e)).toString();
    return trimDigits(s, s.length);
  }
  const s = (mant * 5n ** BigInt(-e)).toString();
  return trimDigits(s, s.length + e);
}

/** The shortest digits that read back as x (JS and Go agree on these). */
function shortestDigits(x: number): Digits {
  const [m = "0", ex = "0"] = x.toExponential().split("e");
  return trimDigits(m.replace(".", ""), Number(ex) + 1);
}

/** Keeps `nd` digits, rounding half to even on the exact value (Go's decimal.Round). */
function roundDigits(g: Digits, nd: number): Digits {
  if (nd < 0 || nd >= g.d.length) return g;
  const halfway = g.d[nd] === "5" && nd + 1 === g.d.length;
  const up = halfway ? nd > 0 && Number(g.d[nd - 1]) % 2 === 1 : (g.d[nd] ?? "0") >= "5";
  if (!up) return trimDigits(g.d.slice(0, nd), g.dp);
  const digits = g.d.slice(0, nd).split("");
  let i = nd - 1;
  while (i >= 0 && digits[i] === "9") i--;
  if (i < 0) return { d: "1", dp: g.dp + 1 };
  digits[i] = String(Number(digits[i]) + 1);
  return trimDigits(digits.slice(0, i + 1).join(""), g.dp);
}

function fmtE(g: Digits, prec: number, upper: boolean): string {
  let s = g.d[0] ?? "0";
  if (prec > 0) s += `.${g.d.slice(1, prec + 1).padEnd(prec, "0")}`;
  const exp = g.d === "" ? 0 : g.dp - 1;
  const abs = Math.abs(exp);
  return `${s}${upper ? "E" : "e"}${exp < 0 ? "-" : "+"}${abs < 10 ? "0" : ""}${abs}`;
}

function fmtF(g: Digits, prec: number): string {
  let s = g.dp > 0 ? g.d.slice(0, g.dp).padEnd(g.dp, "0") : "0";
  if (prec > 0) {
    s += ".";
    for (let i = 0; i < prec; i++) {
      const j = g.dp + i;
      s += j >= 0 && j < g.d.length ? g.d[j] : "0";
    }
  }
  return s;
}

export type FloatVerb = "e" | "E" | "f" | "g" | "G";

/** strconv.FormatFloat(x, verb, prec, 64); prec -1 means the shortest form. */
export function formatFloat(x: number, verb: FloatVerb, prec: number): string {
  if (Number.isNaN(x)) return "NaN";
  if (!Number.isFinite(x)) return x > 0 ? "+Inf" : "-Inf";
  const neg = x < 0 || Object.is(x, -0);
  const ax = Math.abs(x);
  const shortest = prec < 0;
  let g: Digits;
  if (ax === 0) g = { d: "", dp: 0 };
  else if (shortest) g = shortestDigits(ax);
  else {
    const exact = exactDigits(ax);
    if (verb === "f") g = roundDigits(exact, exact.dp + prec);
    else if (verb === "e" || verb === "E") g = roundDigits(exact, prec + 1);
    else g = roundDigits(exact, prec === 0 ? 1 : prec);
  }
  if (shortest) {
    const nd = g.d.length;
    prec = verb === "f" ? Math.max(nd - g.dp, 0) : verb === "e" || verb === "E" ? Math.max(nd - 1, 0) : nd;
  } else if ((verb === "g" || verb === "G") && prec === 0) prec = 1;
  let out: string;
  if (verb === "f") out = fmtF(g, prec);
  else if (verb === "e" || verb === "E") out = fmtE(g, prec, verb === "E");
  else {
    const nd = g.d.length;
    let eprec = prec;
    if (eprec > nd && nd >= g.dp) eprec = nd;
    if (shortest) eprec = 6;
    const exp = g.dp - 1;
    if (nd > 0 && (exp < -4 || exp >= eprec)) out = fmtE(g, Math.min(prec, nd) - 1, verb === "G");
    else out = fmtF(g, Math.max((prec > g.dp ? nd : prec) - g.dp, 0));
  }
  return neg ? `-${out}` : out;
}

/** Go's %v for a number: integers as integers, other values in shortest %g form. */
export function formatNumber(x: number): string {
  if (Number.isSafeInteger(x)) return String(x === 0 ? 0 : x);
  return formatFloat(x, "g", -1);
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/** A non-plain object with its own toString: Go's fmt.Stringer. */
export function isStringer(v: unknown): v is { toString(): string } {
  if (typeof v !== "object" || v === null || Array.isArray(v) || isPlainObject(v)) return false;
  if (v instanceof Date || v instanceof Map) return false;
  return (v as { toString: unknown }).toString !== Object.prototype.toString;
}

export function sortedKeys(o: Record<string, unknown>): string[] {
  return Object.keys(o).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Entries of a map-like value in Go's printing and ranging order (sorted keys). */
export function mapEntries(v: unknown): [string, unknown][] | undefined {
  if (v instanceof Map) {
    return [...v.entries()]
      .map(([k, x]): [string, unknown] => [String(k), x])
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }
  if (isPlainObject(v)) return sortedKeys(v).map((k) => [k, v[k]]);
  return undefined;
}

/** Go's %v (and Sprint) for one value; nil prints as `<nil>`. */
export function formatValue(v: unknown): string {
  if (v === null || v === undefined) return "<nil>";
  if (typeof v === "string") return v;
  if (typeof v === "number") return formatNumber(v);
  if (typeof v === "boolean" || typeof v === "bigint") return String(v);
  if (Array.isArray(v)) return `[${v.map(formatValue).join(" ")}]`;
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? "<invalid time>" : v.toISOString();
  if (isStringer(v)) return String(v);
  const entries = mapEntries(v);
  if (entries) return `map[${entries.map(([k, x]) => `${k}:${formatValue(x)}`).join(" ")}]`;
  if (typeof v === "function") return "<func>";
  return String(v);
}

/** The Go type name used in fmt's error annotations, for JSON-shaped values. */
export function goTypeName(v: unknown): string {
  if (v === null || v === undefined) return "<nil>";
  if (typeof v === "string") return "string";
  if (typeof v === "boolean") return "bool";
  if (typeof v === "number") return Number.isInteger(v) ? "int" : "float64";
  if (typeof v === "bigint") return "int64";
  if (Array.isArray(v)) return "[]interface {}";
  if (isPlainObject(v) || v instanceof Map) return "map[string]interface {}";
  if (typeof v === "function") return "func";
  const ctor = (v as { constructor?: { name?: string } }).constructor?.name;
  return ctor ? `*${ctor}` : "interface {}";
}

const NAMED_ESCAPES: Record<string, string> = {
  "\x07": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v", "\\": "\\\\",
};

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, "0");
}

/** strconv.Quote (quote `"`) or QuoteRune (quote `'`), keeping printable Unicode. */
export function goQuote(s: string, quote: '"' | "'" = '"'): string {
  let out = quote;
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0;
    const named = NAMED_ESCAPES[ch];
    if (ch === quote) out += `\\${ch}`;
    else if (named) out += named;
    else if (cp < 0x20 || cp === 0x7f) out += `\\x${hex(cp, 2)}`;
    else if ((cp >= 0x80 && cp <= 0x9f) || cp === 0xad || cp === 0x2028 || cp === 0x2029 || cp === 0xfeff) {
      out += `\\u${hex(cp, 4)}`;
    } else if (cp >= 0xd800 && cp <= 0xdfff) out += "\\ufffd";
    else out += ch;
  }
  return out + quote;
}

type Spec = { minus: boolean; plus: boolean; space: boolean; zero: boolean; sharp: boolean; width?: number; prec?: number };

function pad(s: string, spec: Spec, numeric: boolean): string {
  const len = [...s].length;
  if (spec.width === undefined || len >= spec.width) return s;
  const n = spec.width - len;
  if (spec.minus) return s + " ".repeat(n);
  if (spec.zero) {
    const sign = numeric && /^[+\- ]/.test(s) ? s.slice(0, 1) : "";
    return sign + "0".repeat(n) + s.slice(sign.length);
  }
  return " ".repeat(n) + s;
}

function signed(body: string, negative: boolean, spec: Spec): string {
  if (negative) return `-${body}`;
  if (spec.plus) return `+${body}`;
  if (spec.space) return ` ${body}`;
  return body;
}

function badVerb(verb: string, v: unknown): string {
  if (v === null || v === undefined) return `%!${verb}(<nil>)`;
  return `%!${verb}(${goTypeName(v)}=${formatValue(v)})`;
}

function fmtInteger(x: number, verb: string, spec: Spec): string {
  const big = BigInt(x);
  const neg = big < 0n;
  const abs = neg ? -big : big;
  let body: string;
  switch (verb) {
    case "d": case "v": body = abs.toString(10); break;
    case "b": body = abs.toString(2); break;
    case "o": body = (spec.sharp ? "0" : "") + abs.toString(8); break;
    case "O": body = `0o${abs.toString(8)}`; break;
    case "x": body = (spec.sharp ? "0x" : "") + abs.toString(16); break;
    case "X": body = (spec.sharp ? "0X" : "") + abs.toString(16).toUpperCase(); break;
    case "c": return pad(String.fromCodePoint(x), spec, false);
    case "q": return pad(goQuote(String.fromCodePoint(x), "'"), spec, false);
    case "U": return pad(`U+${abs.toString(16).toUpperCase().padStart(4, "0")}`, spec, false);
    default: return badVerb(verb, x);
  }
  if (spec.prec !== undefined) body = body.padStart(spec.prec, "0");
  return pad(signed(body, neg, spec), spec, spec.prec === undefined);
}

function fmtNumber(x: number, verb: string, spec: Spec): string {
  if ("eEfFgG".includes(verb)) {
    const v = (verb === "F" ? "f" : verb) as FloatVerb;
    const prec = spec.prec ?? (verb === "g" || verb === "G" ? -1 : 6);
    const s = formatFloat(Math.abs(x), v, prec);
    return pad(signed(s, x < 0 || Object.is(x, -0), spec), spec, Number.isFinite(x));
  }
  if (verb === "v" && !Number.isSafeInteger(x)) {
    return pad(signed(formatFloat(Math.abs(x), "g", spec.prec ?? -1), x < 0, spec), spec, true);
  }
  if (Number.isInteger(x) && Number.isFinite(x)) return fmtInteger(x, verb, spec);
  return badVerb(verb, x);
}

function fmtString(s: string, verb: string, spec: Spec, original: unknown): string {
  const cut = spec.prec !== undefined ? [...s].slice(0, spec.prec).join("") : s;
  switch (verb) {
    case "s": case "v": return pad(cut, spec, false);
    case "q":
      if (spec.sharp && !cut.includes("`") && !/[\x00-\x08\x0a-\x1f\x7f]/.test(cut)) return pad(`\`${cut}\``, spec, false);
      return pad(goQuote(cut), spec, false);
    case "x": case "X": {
      const h = [...new TextEncoder().encode(cut)].map((b) => hex(b, 2)).join(spec.space ? " " : "");
      return pad(verb === "X" ? h.toUpperCase() : h, spec, false);
    }
    default: return badVerb(verb, original);
  }
}

function fmtArg(v: unknown, verb: string, spec: Spec): string {
  if (v === null || v === undefined) return verb === "v" ? pad("<nil>", spec, false) : badVerb(verb, v);
  if (typeof v === "string") return fmtString(v, verb, spec, v);
  if (typeof v === "number") return fmtNumber(v, verb, spec);
  if (typeof v === "bigint") return fmtInteger(Number(v), verb, spec);
  if (typeof v === "boolean") return verb === "t" || verb === "v" ? pad(String(v), spec, false) : badVerb(verb, v);
  if (Array.isArray(v)) return `[${v.map((x) => fmtArg(x, verb, spec)).join(" ")}]`;
  if (v instanceof Date || isStringer(v)) return fmtString(formatValue(v), verb, spec, v);
  const entries = mapEntries(v);
  if (entries) return `map[${entries.map(([k, x]) => `${fmtArg(k, verb, spec)}:${fmtArg(x, verb, spec)}`).join(" ")}]`;
  return verb === "v" ? pad(formatValue(v), spec, false) : badVerb(verb, v);
}

/** fmt.Sprintf with Go's verbs, flags, widths and error annotations (`%!d(string=x)`). */
export function sprintf(format: string, args: readonly unknown[]): string {
  let out = "";
  let argi = 0;
  let i = 0;
  while (i < format.length) {
    const pct = format.indexOf("%", i);
    if (pct < 0) { out += format.slice(i); break; }
    out += format.slice(i, pct);
    i = pct + 1;
    const spec: Spec = { minus: false, plus: false, space: false, zero: false, sharp: false };
    for (; i < format.length; i++) {
      const c = format[i];
      if (c === "-") spec.minus = true;
      else if (c === "+") spec.plus = true;
      else if (c === " ") spec.space = true;
      else if (c === "0") spec.zero = true;
      else if (c === "#") spec.sharp = true;
      else break;
    }
    const num = (): number | undefined => {
      if (format[i] === "*") {
        i++;
        const a = args[argi++];
        return typeof a === "number" && Number.isInteger(a) ? a : undefined;
      }
      const m = /^\d+/.exec(format.slice(i));
      if (!m) return undefined;
      i += m[0].length;
      return Number(m[0]);
    };
    spec.width = num();
    if (spec.width !== undefined && spec.width < 0) { spec.minus = true; spec.width = -spec.width; }
    if (format[i] === ".") { i++; spec.prec = num() ?? 0; }
    const verb = String.fromCodePoint(format.codePointAt(i) ?? 0);
    if (i >= format.length) { out += "%!(NOVERB)"; break; }
    i += verb.length;
    if (verb === "%") { out += "%"; continue; }
    if (argi >= args.length) { out += `%!${verb}(MISSING)`; continue; }
    out += fmtArg(args[argi++], verb, spec);
  }
  if (argi < args.length) {
    const extra = args.slice(argi).map((a) => (a === null || a === undefined ? "<nil>" : `${goTypeName(a)}=${formatValue(a)}`));
    out += `%!(EXTRA ${extra.join(", ")})`;
  }
  return out;
}

/** fmt.Sprint: spaces between operands when neither side is a string. */
export function sprint(args: readonly unknown[]): string {
  let out = "";
  args.forEach((a, k) => {
    if (k > 0 && typeof a !== "string" && typeof args[k - 1] !== "string") out += " ";
    out += formatValue(a);
  });
  return out;
}

/** fmt.Sprintln: spaces between all operands and a final newline. */
export function sprintln(args: readonly unknown[]): string {
  return `${args.map(formatValue).join(" ")}\n`;
}
