/**
 * Tokens of Go's text/template: text outside `{{ }}`, and inside an action
 * fields, variables, literals, pipes, parens and keywords. Trim markers
 * (`{{- ` and ` -}}`) are applied here; comments produce no token.
 */

export type TokenType =
  | "text" | "leftDelim" | "rightDelim" | "space" | "identifier" | "keyword" | "field" | "dot"
  | "variable" | "string" | "rawString" | "char" | "number" | "bool" | "nil" | "pipe"
  | "leftParen" | "rightParen" | "declare" | "assign" | "comma" | "eof";

export type Token = { type: TokenType; value: string; pos: number };

export class LexError extends Error {
  readonly pos: number;
  constructor(message: string, pos: number) {
    super(message);
    this.pos = pos;
  }
}

const KEYWORDS = new Set(["if", "else", "end", "range", "with", "break", "continue", "define", "template", "block"]);
const SPACE = " \t\r\n";

function isSpace(c: string | undefined): boolean {
  return c !== undefined && SPACE.includes(c);
}
function isAlnum(c: string | undefined): boolean {
  return c !== undefined && /[\p{L}\p{Nd}_]/u.test(c);
}

/** Splits a template into tokens; throws LexError with the offending offset. */
export function lex(src: string): Token[] {
  const tokens: Token[] = [];
  let pos = 0;
  let trimNext = false;

  while (pos <= src.length) {
    let start = pos;
    if (trimNext) {
      while (isSpace(src[start])) start++;
      trimNext = false;
    }
    const open = src.indexOf("{{", start);
    let text = src.slice(start, open < 0 ? src.length : open);
    if (open < 0) {
      if (text) tokens.push({ type: "text", value: text, pos: start });
      break;
    }
    const trimLeft = src[open + 2] === "-" && isSpace(src[open + 3]);
    if (trimLeft) text = text.replace(/[ \t\r\n]+$/, "");
    if (text) tokens.push({ type: "text", value: text, pos: start });
    pos = open + 2 + (trimLeft ? 2 : 0);

    // Comments: {{/* ... */}} with optional trim markers, nothing else inside.
    if (src.startsWith("/*", pos)) {
      const close = src.indexOf("*/", pos + 2);
      if (close < 0) throw new LexError("unclosed comment", open);
      const after = close + 2;
      if (src.startsWith("}}", after)) pos = after + 2;
      else if (isSpace(src[after]) && src.startsWith("-}}", after + 1)) {
        pos = after + 4;
        trimNext = true;
      } else throw new LexError("comment ends before closing delimiter", open);
      continue;
    }

    tokens.push({ type: "leftDelim", value: "{{", pos: open });
    const r = lexAction(src, pos, tokens);
    pos = r.pos;
    trimNext = r.trim;
  }
  tokens.push({ type: "eof", value: "", pos: src.length });
  return tokens;
}

/** Lexes inside one action; returns the offset after `}}` and whether it was ` -}}`. */
function lexAction(src: string, start: number, tokens: Token[]): { pos: number; trim: boolean } {
  let pos = start;
  let parenDepth = 0;
  const push = (type: TokenType, end: number): void => {
    tokens.push({ type, value: src.slice(pos, end), pos });
    pos = end;
  };
  for (;;) {
    // Right delimiter, with or without the trim marker.
    const trimRight = isSpace(src[pos]) && src.startsWith("-}}", pos + 1);
    if (src.startsWith("}}", pos) || trimRight) {
      if (parenDepth > 0) throw new LexError("unclosed left paren", pos);
      const end = pos + (trimRight ? 4 : 2);
      tokens.push({ type: "rightDelim", value: "}}", pos });
      return { pos: end, trim: trimRight };
    }
    const c = src[pos];
    if (c === undefined) throw new LexError("unclosed action", pos);
    if (isSpace(c)) {
      let end = pos;
      // Stop before a space that starts a trim-marked closing delimiter.
      while (isSpace(src[end]) && !src.startsWith("-}}", end + 1)) end++;
      push("space", end);
      continue;
    }
    if (c === "/" && src.startsWith("/*", pos)) throw new LexError("comment must be the only content of an action", pos);
    if (c === "=") { push("assign", pos + 1); continue; }
    if (c === ":") {
      if (src[pos + 1] !== "=") throw new LexError("expected :=", pos);
      push("declare", pos + 2);
      continue;
    }
    if (c === "|") { push("pipe", pos + 1); continue; }
    if (c === ",") { push("comma", pos + 1); continue; }
    if (c === "(") { parenDepth++; push("leftParen", pos + 1); continue; }
    if (c === ")") {
      if (--parenDepth < 0) throw new LexError("unexpected right paren", pos);
      push("rightParen", pos + 1);
      continue;
    }
    if (c === '"') { push("string", scanQuoted(src, pos, '"', "unterminated quoted string")); continue; }
    if (c === "'") { push("char", scanQuoted(src, pos, "'", "unterminated character constant")); continue; }
    if (c === "`") {
      const end = src.indexOf("`", pos + 1);
      if (end < 0) throw new LexError("unterminated raw quoted string", pos);
      push("rawString", end + 1);
      continue;
    }
    if (c === "$") {
      let end = pos + 1;
      while (isAlnum(src[end])) end++;
      push("variable", end);
      continue;
    }
    if (c === "." && !/[0-9]/.test(src[pos + 1] ?? "")) {
      let end = pos + 1;
      while (isAlnum(src[end])) end++;
      push(end === pos + 1 ? "dot" : "field", end);
      continue;
    }
    if (/[0-9.+\-]/.test(c)) {
      const m = /^[+-]?(0[xX][0-9a-fA-F_]*\.?[0-9a-fA-F_]*([pP][+-]?[0-9_]+)?|0[bB][01_]+|0[oO][0-7_]+|[0-9_]*\.?[0-9_]*([eE][+-]?[0-9_]+)?)i?/.exec(src.slice(pos));
      const len = m?.[0].length ?? 0;
      if (len === 0 || isAlnum(src[pos + len]) || !/[0-9]/.test(m?.[0] ?? "")) {
        throw new LexError(`bad number syntax: "${src.slice(pos, pos + Math.max(len, 1))}"`, pos);
      }
      push("number", pos + len);
      continue;
    }
    if (isAlnum(c)) {
      let end = pos;
      while (isAlnum(src[end])) end++;
      const word = src.slice(pos, end);
      const type: TokenType = KEYWORDS.has(word) ? "keyword"
        : word === "true" || word === "false" ? "bool"
        : word === "nil" ? "nil" : "identifier";
      push(type, end);
      continue;
    }
    const cp = c.codePointAt(0) ?? 0;
    throw new LexError(`unrecognized character in action: U+${cp.toString(16).toUpperCase().padStart(4, "0")} '${c}'`, pos);
  }
}

function scanQuoted(src: string, start: number, quote: string, message: string): number {
  let i = start + 1;
  for (;;) {
    const c = src[i];
    if (c === undefined || c === "\n") throw new LexError(message, start);
    if (c === "\\") i += 2;
    else if (c === quote) return i + 1;
    else i++;
  }
}
