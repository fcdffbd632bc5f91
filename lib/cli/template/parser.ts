/**
 * Parses template tokens into a tree, checking what Go checks at parse time:
 * functions must be defined, variables declared, {{break}} inside {{range}}.
 */
import { lex, type Token, type TokenType } from "./lexer.ts";

type Span = { pos: number; end: number };
export type ArgNode = Span & (
  | { kind: "field"; chain: string[] }
  | { kind: "variable"; name: string; chain: string[] }
  | { kind: "dot" }
  | { kind: "chain"; node: ArgNode; chain: string[] }
  | { kind: "identifier"; name: string }
  | { kind: "literal"; value: string | number | boolean }
  | { kind: "nil" }
  | PipeNode
);
export type CommandNode = Span & { args: ArgNode[] };
export type PipeNode = Span & { kind: "pipe"; decl: string[]; isAssign: boolean; cmds: CommandNode[] };
export type ControlKind = "if" | "with" | "range";
export type Node =
  | { kind: "text"; text: string }
  | { kind: "action"; pipe: PipeNode }
  | { kind: ControlKind; pipe: PipeNode; list: Node[]; elseList?: Node[] }
  | { kind: "break" | "continue"; pos: number };

export class ParseError extends Error {
  readonly pos: number;
  constructor(message: string, pos: number) {
    super(message);
    this.pos = pos;
  }
}

type Terminator = "end" | "else";

function describe(t: Token): string {
  return t.type === "eof" ? "EOF" : `<${t.value}>`;
}

/** Parses `src`; `funcs` holds every callable name (builtins and custom). */
export function parse(src: string, funcs: ReadonlySet<string>): Node[] {
  return new Parser(lex(src), funcs).parseTemplate();
}

class Parser {
  #tokens: Token[];
  #i = 0;
  #funcs: ReadonlySet<string>;
  #vars: string[] = ["$"];
  #rangeDepth = 0;
  #lastEnd = 0;

  constructor(tokens: Token[], funcs: ReadonlySet<string>) {
    this.#tokens = tokens;
    this.#funcs = funcs;
  }

  #peek(): Token {
    return this.#tokens[this.#i] ?? { type: "eof", value: "", pos: 0 };
  }
  #next(): Token {
    const t = this.#peek();
    if (this.#i < this.#tokens.length - 1) this.#i++;
    this.#lastEnd = t.pos + t.value.length;
    return t;
  }
  #peekNonSpace(): Token {
    while (this.#peek().type === "space") this.#next();
    return this.#peek();
  }
  #nextNonSpace(): Token {
    this.#peekNonSpace();
    return this.#next();
  }
  #expect(type: TokenType, context: string): Token {
    const t = this.#nextNonSpace();
    if (t.type !== type) throw new ParseError(`unexpected ${describe(t)} in ${context}`, t.pos);
    return t;
  }

  parseTemplate(): Node[] {
    const { nodes, term, pos } = this.#itemList(true);
    if (term) throw new ParseError(`unexpected {{${term}}}`, pos);
    return nodes;
  }

  /** Nodes up to {{end}} or {{else}} (consumed up to the keyword); EOF only at top level. */
  #itemList(top = false): { nodes: Node[]; term?: Terminator; pos: number } {
    const nodes: Node[] = [];
    for (;;) {
      const t = this.#next();
      if (t.type === "eof") {
        if (top) return { nodes, pos: t.pos };
        throw new ParseError("unexpected EOF", t.pos);
      }
      if (t.type === "text") {
        nodes.push({ kind: "text", text: t.value });
        continue;
      }
      const r = this.#action();
      if (typeof r === "string") return { nodes, term: r, pos: t.pos };
      nodes.push(r);
    }
  }

  /** After `{{`: a control structure, a terminator, or a pipeline to print. */
  #action(): Node | Terminator {
    const t = this.#peekNonSpace();
    if (t.type === "keyword") {
      this.#next();
      switch (t.value) {
        case "if": case "with": case "range": return this.#control(t.value);
        case "else": return "else";
        case "end": this.#expect("rightDelim", "end"); return "end";
        case "break": case "continue":
          if (this.#rangeDepth === 0) throw new ParseError(`{{${t.value}}} outside {{range}}`, t.pos);
          this.#expect("rightDelim", t.value);
          return { kind: t.value, pos: t.pos };
        default: throw new ParseError(`{{${t.value}}} is not supported`, t.pos);
      }
    }
    return { kind: "action", pipe: this.#pipeline("command", "rightDelim") };
  }

  #control(kind: ControlKind): Node {
    const mark = this.#vars.length;
    const pipe = this.#pipeline(kind, "rightDelim");
    if (kind === "range") this.#rangeDepth++;
    const body = this.#itemList();
    if (kind === "range") this.#rangeDepth--;
    const node: Node = { kind, pipe, list: body.nodes };
    if (body.term === "else") {
      const t = this.#peekNonSpace();
      if (kind !== "range" && t.type === "keyword" && t.value === kind) {
        // {{else if x}} is {{else}}{{if x}}…{{end}}{{end}}: the nested one consumes {{end}}.
        this.#next();
        node.elseList = [this.#control(kind)];
      } else {
        this.#expect("rightDelim", "else");
        const alt = this.#itemList();
        if (alt.term === "else") throw new ParseError("expected end; found {{else}}", alt.pos);
        node.elseList = alt.nodes;
      }
    }
    this.#vars.length = mark;
    return node;
  }

  #declare(v: Token, isAssign: boolean): void {
    if (isAssign && !this.#vars.includes(v.value)) throw new ParseError(`undefined variable "${v.value}"`, v.pos);
    if (!isAssign) this.#vars.push(v.value);
  }

  #pipeline(context: string, end: "rightDelim" | "rightParen"): PipeNode {
    const first = this.#peekNonSpace();
    const pipe: PipeNode = { kind: "pipe", pos: first.pos, end: first.pos, decl: [], isAssign: false, cmds: [] };
    if (first.type === "variable") {
      const save = this.#i;
      this.#next();
      const next = this.#peekNonSpace();
      if (next.type === "declare" || next.type === "assign") {
        this.#next();
        pipe.isAssign = next.type === "assign";
        pipe.decl.push(first.value);
      } else if (next.type === "comma") {
        this.#next();
        const second = this.#nextNonSpace();
        if (context !== "range") throw new ParseError(`too many declarations in ${context}`, next.pos);
        if (second.type !== "variable") throw new ParseError("range can only initialize variables", second.pos);
        const op = this.#nextNonSpace();
        if (op.type !== "declare" && op.type !== "assign") throw new ParseError(`unexpected ${describe(op)} in range`, op.pos);
        pipe.isAssign = op.type === "assign";
        pipe.decl.push(first.value, second.value);
      } else this.#i = save;
      // Declared names are visible only after the declaration's pipeline.
    }
    let afterPipe = false;
    for (;;) {
      const t = this.#peekNonSpace();
      if (t.type === end) {
        pipe.end = this.#lastEnd;
        this.#next();
        if (afterPipe) throw new ParseError(`missing command after | in ${context}`, t.pos);
        break;
      }
      if (t.type === "rightDelim" || t.type === "rightParen" || t.type === "eof" || t.type === "pipe") {
        throw new ParseError(`unexpected ${describe(t)} in ${context}`, t.pos);
      }
      const cmd = this.#command();
      if (pipe.cmds.length > 0) {
        const head = cmd.args[0];
        if (head && (head.kind === "literal" || head.kind === "dot" || head.kind === "nil" || head.kind === "pipe")) {
          throw new ParseError(`non executable command in pipeline stage ${pipe.cmds.length + 1}`, head.pos);
        }
      }
      pipe.cmds.push(cmd);
      afterPipe = this.#peek().type === "pipe";
      if (afterPipe) this.#next();
    }
    if (pipe.cmds.length === 0) throw new ParseError(`missing value for ${context}`, first.pos);
    for (const name of pipe.decl) this.#declare({ type: "variable", value: name, pos: pipe.pos }, pipe.isAssign);
    return pipe;
  }

  #command(): CommandNode {
    const args: ArgNode[] = [];
    const pos = this.#peekNonSpace().pos;
    for (;;) {
      this.#peekNonSpace();
      const operand = this.#operand();
      if (operand) args.push(operand);
      const t = this.#peek();
      if (t.type === "space") continue;
      if (t.type === "rightDelim" || t.type === "rightParen" || t.type === "pipe") break;
      throw new ParseError(`unexpected ${describe(t)} in operand`, t.pos);
    }
    if (args.length === 0) throw new ParseError("empty command", pos);
    return { pos, end: this.#lastEnd, args };
  }

  #operand(): ArgNode | undefined {
    const node = this.#term();
    if (!node || this.#peek().type !== "field") return node;
    const chain: string[] = [];
    while (this.#peek().type === "field") chain.push(this.#next().value.slice(1));
    const end = this.#lastEnd;
    switch (node.kind) {
      case "field": return { ...node, chain: [...node.chain, ...chain], end };
      case "variable": return { ...node, chain: [...node.chain, ...chain], end };
      case "literal": case "nil": case "dot":
        throw new ParseError(`unexpected . after term "${node.kind === "literal" ? String(node.value) : node.kind}"`, node.end);
      default: return { kind: "chain", node, chain, pos: node.pos, end };
    }
  }

  #term(): ArgNode | undefined {
    const t = this.#peek();
    const span = { pos: t.pos, end: t.pos + t.value.length };
    switch (t.type) {
      case "identifier":
        if (!this.#funcs.has(t.value)) throw new ParseError(`function "${t.value}" not defined`, t.pos);
        this.#next();
        return { kind: "identifier", name: t.value, ...span };
      case "dot": this.#next(); return { kind: "dot", ...span };
      case "nil": this.#next(); return { kind: "nil", ...span };
      case "variable":
        if (!this.#vars.includes(t.value)) throw new ParseError(`undefined variable "${t.value}"`, t.pos);
        this.#next();
        return { kind: "variable", name: t.value, chain: [], ...span };
      case "field": this.#next(); return { kind: "field", chain: [t.value.slice(1)], ...span };
      case "bool": this.#next(); return { kind: "literal", value: t.value === "true", ...span };
      case "number": this.#next(); return { kind: "literal", value: parseNumber(t), ...span };
      case "char": {
        this.#next();
        const s = unquote(t, "'");
        const cps = [...s];
        if (cps.length !== 1) throw new ParseError(`malformed character constant: ${t.value}`, t.pos);
        return { kind: "literal", value: cps[0]?.codePointAt(0) ?? 0, ...span };
      }
      case "string": this.#next(); return { kind: "literal", value: unquote(t, '"'), ...span };
      case "rawString": this.#next(); return { kind: "literal", value: t.value.slice(1, -1).replace(/\r/g, ""), ...span };
      case "leftParen": {
        this.#next();
        const pipe = this.#pipeline("parenthesized pipeline", "rightParen");
        return { ...pipe, pos: t.pos, end: this.#lastEnd };
      }
      default: return undefined;
    }
  }
}

function parseNumber(t: Token): number {
  const text = t.value.replace(/_/g, "");
  const bad = (): never => {
    throw new ParseError(`illegal number syntax: "${t.value}"`, t.pos);
  };
  if (text.endsWith("i") || /^[+-]?0[xX].*[pP.]/.test(text)) bad();
  const sign = text.startsWith("-") ? -1 : 1;
  const body = text.replace(/^[+-]/, "");
  let n: number;
  if (/^0[xX][0-9a-fA-F]+$/.test(body)) n = Number.parseInt(body.slice(2), 16);
  else if (/^0[bB][01]+$/.test(body)) n = Number.parseInt(body.slice(2), 2);
  else if (/^0[oO]?[0-7]+$/.test(body)) n = Number.parseInt(body.replace(/^0[oO]?/, ""), 8);
  else if (/^(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(body)) n = Number(body);
  else return bad();
  return sign * n;
}

const SIMPLE_ESCAPES: Record<string, string> = {
  a: "\x07", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t", v: "\v", "\\": "\\", "'": "'", '"': '"',
};

/** Go's strconv.Unquote for "…" and '…' literals. */
function unquote(t: Token, quote: string): string {
  const body = t.value.slice(1, -1);
  const bad = (): never => {
    throw new ParseError(`invalid syntax in literal ${t.value}`, t.pos);
  };
  let out = "";
  for (let i = 0; i < body.length; i++) {
    const c = body[i] ?? "";
    if (c !== "\\") {
      out += c;
      continue;
    }
    const e = body[++i] ?? "";
    const simple = SIMPLE_ESCAPES[e];
    if (simple !== undefined && (e !== "'" || quote === "'") && (e !== '"' || quote === '"')) out += simple;
    else if (e === "x" || e === "u" || e === "U") {
      const len = e === "x" ? 2 : e === "u" ? 4 : 8;
      const hex = body.slice(i + 1, i + 1 + len);
      if (!new RegExp(`^[0-9a-fA-F]{${len}}$`).test(hex)) bad();
      const cp = Number.parseInt(hex, 16);
      if (cp > 0x10ffff) bad();
      out += e === "x" ? String.fromCharCode(cp) : String.fromCodePoint(cp);
      i += len;
    } else if (/[0-7]/.test(e)) {
      const oct = body.slice(i, i + 3);
      if (!/^[0-7]{3}$/.test(oct)) bad();
      out += String.fromCharCode(Number.parseInt(oct, 8));
      i += 2;
    } else bad();
  }
  return out;
}
