/**
 * Dockerfile instructions given with `--change` (import, later commit), as
 * Docker applies them to an image's runtime config: CMD, ENTRYPOINT, ENV,
 * EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR. Pure: no IO.
 *
 *   applyChanges({}, ['CMD ["sh"]', "ENV A=1 B=two", "EXPOSE 80 53/udp"])
 *   // { Cmd: ["sh"], Env: ["A=1", "B=two"], ExposedPorts: { "80/tcp": {}, "53/udp": {} } }
 *
 * As in a Dockerfile: CMD/ENTRYPOINT/VOLUME take a JSON array (exec form)
 * or a string (shell form → `/bin/sh -c`); ENV and LABEL take `k=v` pairs
 * (quotes and backslashes as the shell has them) or the legacy `KEY value`;
 * `$VAR` / `${VAR}` are expanded from the config's Env except in CMD and
 * ENTRYPOINT; ENTRYPOINT clears a CMD not set by an earlier change.
 */
import { posix } from "node:path";
import { SkiffError } from "../errors.ts";
import type { ContainerConfig } from "./manifest.ts";

export const CHANGE_INSTRUCTIONS = [
  "CMD",
  "ENTRYPOINT",
  "ENV",
  "EXPOSE",
  "LABEL",
  "ONBUILD",
  "STOPSIGNAL",
  "USER",
  "VOLUME",
  "WORKDIR",
] as const;

const MAX_PORT_RANGE = 65536;

function bad(change: string, reason: string): SkiffError {
  return new SkiffError("InvalidArgument", `invalid change ${JSON.stringify(change)}: ${reason}`);
}

/** Applies `changes` in order to a copy of `base`. */
export function applyChanges(base: ContainerConfig, changes: readonly string[]): ContainerConfig {
  const cfg: ContainerConfig = structuredClone(base);
  let cmdSet = false;
  for (const change of changes) {
    for (const line of instructionLines(change)) {
      const m = /^\s*(\S+)(?:\s+([\s\S]*))?$/.exec(line);
      const keyword = (m?.[1] ?? "").toUpperCase();
      const args = (m?.[2] ?? "").trim();
      if (!(CHANGE_INSTRUCTIONS as readonly string[]).includes(keyword)) {
        throw bad(line, `${keyword} is not supported; use ${CHANGE_INSTRUCTIONS.join(", ")}`);
      }
      if (args === "") throw bad(line, `${keyword} needs an argument`);
      const env = envMap(cfg.Env);
      switch (keyword) {
        case "CMD":
          cfg.Cmd = commandForm(args);
          cmdSet = true;
          break;
        case "ENTRYPOINT":
          cfg.Entrypoint = commandForm(args);
          if (!cmdSet) cfg.Cmd = null;
          break;
        case "ENV":
          for (const [k, v] of pairs(line, args, env)) cfg.Env = setEnv(cfg.Env ?? [], k, v);
          break;
        case "LABEL":
          for (const [k, v] of pairs(line, args, env)) cfg.Labels = { ...cfg.Labels, [k]: v };
          break;
        case "EXPOSE":
          for (const w of words(args)) {
            for (const p of exposedPorts(line, expandWord(w, env))) cfg.ExposedPorts = { ...cfg.ExposedPorts, [p]: {} };
          }
          break;
        case "VOLUME": {
          const exec = jsonArray(args);
          for (const v of exec ?? words(args).map((w) => expandWord(w, env))) {
            if (v.trim() === "") throw bad(line, "a volume path is empty");
            cfg.Volumes = { ...cfg.Volumes, [v]: {} };
          }
          break;
        }
        case "WORKDIR": {
          const dir = expandWord(args, env);
          cfg.WorkingDir = posix.isAbsolute(dir) ? dir : posix.join("/", cfg.WorkingDir ?? "", dir);
          break;
        }
        case "USER":
          cfg.User = expandWord(args, env);
          break;
        case "STOPSIGNAL": {
          const sig = expandWord(args, env);
          if (!/^(\d+|(SIG)?[A-Z][A-Z0-9+-]*)$/i.test(sig)) throw bad(line, `invalid signal ${JSON.stringify(sig)}`);
          cfg.StopSignal = sig;
          break;
        }
        case "ONBUILD": {
          const trigger = (/^\S+/.exec(args)?.[0] ?? "").toUpperCase();
          if (["ONBUILD", "FROM", "MAINTAINER"].includes(trigger)) throw bad(line, `${trigger} is not allowed as an ONBUILD trigger`);
          cfg.OnBuild = [...(cfg.OnBuild ?? []), `${trigger}${args.slice(trigger.length)}`];
          break;
        }
      }
    }
  }
  return cfg;
}

/** Splits a change into instruction lines, joining `\`-newline continuations. */
function instructionLines(change: string): string[] {
  return change
    .replace(/\\\r?\n/g, "")
    .split(/\r?\n/)
    .filter((l) => l.trim() !== "" && !l.trim().startsWith("#"));
}

function jsonArray(args: string): string[] | undefined {
  if (!args.startsWith("[")) return undefined;
  try {
    const v: unknown = JSON.parse(args);
    if (Array.isArray(v) && v.every((s) => typeof s === "string")) return v as string[];
  } catch {
    // Not JSON: Docker then takes the whole string in shell form.
  }
  return undefined;
}

/** Exec form (JSON array) or shell form. */
export function commandForm(args: string): string[] {
  return jsonArray(args) ?? ["/bin/sh", "-c", args];
}

function envMap(env: readonly string[] | null | undefined): Map<string, string> {
  const m = new Map<string, string>();
  for (const e of env ?? []) {
    const i = e.indexOf("=");
    if (i > 0) m.set(e.slice(0, i), e.slice(i + 1));
    else m.set(e, "");
  }
  return m;
}

function setEnv(env: readonly string[], key: string, value: string): string[] {
  const out = env.filter((e) => e !== key && !e.startsWith(`${key}=`));
  const at = env.findIndex((e) => e === key || e.startsWith(`${key}=`));
  const entry = `${key}=${value}`;
  if (at < 0) return [...out, entry];
  out.splice(at, 0, entry);
  return out;
}

/**
 * Splits on whitespace outside quotes; quotes and backslashes stay in the
 * words (expandWord removes them).
 */
export function words(s: string): string[] {
  const out: string[] = [];
  let cur = "";
  let quote: '"' | "'" | undefined;
  let inWord = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    if (quote) {
      cur += c;
      if (c === "\\" && quote === '"' && i + 1 < s.length) cur += s[++i];
      else if (c === quote) quote = undefined;
      continue;
    }
    if (/\s/.test(c)) {
      if (inWord) out.push(cur);
      cur = "";
      inWord = false;
      continue;
    }
    inWord = true;
    cur += c;
    if (c === "\\" && i + 1 < s.length) cur += s[++i];
    else if (c === '"' || c === "'") quote = c;
  }
  if (quote) throw new SkiffError("InvalidArgument", `unterminated quote in ${JSON.stringify(s)}`);
  if (inWord) out.push(cur);
  return out;
}

/** Removes quotes and backslashes and expands `$VAR`, `${VAR}`, `${VAR:-x}`, `${VAR:+x}`. */
export function expandWord(word: string, env: ReadonlyMap<string, string>): string {
  let out = "";
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < word.length; i++) {
    const c = word[i] as string;
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else out += c;
      continue;
    }
    if (c === "\\" && i + 1 < word.length) {
      const next = word[i + 1] as string;
      // Inside double quotes only \ " $ are escapes, as in the shell.
      if (quote === '"' && !["\\", '"', "$"].includes(next)) out += c;
      out += next;
      i++;
      continue;
    }
    if (c === '"') {
      quote = quote ? undefined : '"';
      continue;
    }
    if (c === "'" && !quote) {
      quote = "'";
      continue;
    }
    if (c === "$") {
      const r = expandVariable(word, i, env);
      if (r) {
        out += r.value;
        i = r.end - 1;
        continue;
      }
    }
    out += c;
  }
  return out;
}

function expandVariable(word: string, at: number, env: ReadonlyMap<string, string>): { value: string; end: number } | undefined {
  const simple = /^\$([A-Za-z_][A-Za-z0-9_]*)/.exec(word.slice(at));
  if (simple) return { value: env.get(simple[1] as string) ?? "", end: at + simple[0].length };
  const braced = /^\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([-+])([^}]*))?\}/.exec(word.slice(at));
  if (!braced) return undefined;
  const name = braced[1] as string;
  const value = env.get(name);
  let result = value ?? "";
  if (braced[2] === "-" && !value) result = expandWord(braced[3] ?? "", env);
  if (braced[2] === "+") result = value ? expandWord(braced[3] ?? "", env) : "";
  return { value: result, end: at + braced[0].length };
}

/** `k=v k2="v 2"` pairs, or the legacy `KEY value with spaces`. */
function pairs(line: string, args: string, env: ReadonlyMap<string, string>): [string, string][] {
  const ws = words(args);
  const first = ws[0] ?? "";
  if (!first.includes("=")) {
    const rest = args.slice(first.length).trim();
    if (rest === "") throw bad(line, `${first} has no value (use KEY=VALUE)`);
    return [[expandWord(first, env), expandWord(rest, env)]];
  }
  return ws.map((w) => {
    const eq = w.indexOf("=");
    if (eq <= 0) throw bad(line, `${JSON.stringify(w)} is not of the form KEY=VALUE`);
    return [expandWord(w.slice(0, eq), env), expandWord(w.slice(eq + 1), env)];
  });
}

/** `80` → ["80/tcp"]; `8000-8001/udp` → ["8000/udp", "8001/udp"]. */
function exposedPorts(line: string, spec: string): string[] {
  const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(spec);
  if (!m) throw bad(line, `invalid port ${JSON.stringify(spec)} (use PORT[/PROTO] or START-END[/PROTO])`);
  const start = Number(m[1]);
  const end = m[2] !== undefined ? Number(m[2]) : start;
  const proto = (m[3] ?? "tcp").toLowerCase();
  if (start > 65535 || end > 65535 || end < start || end - start >= MAX_PORT_RANGE) {
    throw bad(line, `invalid port range ${JSON.stringify(spec)}`);
  }
  const out: string[] = [];
  for (let p = start; p <= end; p++) out.push(`${p}/${proto}`);
  return out;
}
