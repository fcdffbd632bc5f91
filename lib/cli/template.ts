/**
 * Go text/template, the subset people put in `--format`: fields, variables,
 * pipelines, if/else if/with/range (+ break/continue), trim markers, comments,
 * Go's builtin functions and Docker's (json, split, join, title, lower, upper,
 * pad, truncate). Values print as Go's fmt `%v` does.
 *
 *   compileTemplate("{{.ID}}\t{{.Image}}").execute({ ID: "abc", Image: "alpine" })  // "abc\talpine"
 *
 * Not supported: define/template/block, custom delimiters, complex numbers.
 */
import { SkiffError } from "../errors.ts";
import { ExecError, execute, type Span } from "./template/exec.ts";
import { BUILTINS, DOCKER_FUNCS, type FuncSpec, type TemplateFunc } from "./template/funcs.ts";
import { LexError } from "./template/lexer.ts";
import { parse, ParseError, type Node } from "./template/parser.ts";

export type { TemplateFunc } from "./template/funcs.ts";
export { HEADER_FUNCS, toGoJson, truth } from "./template/funcs.ts";
export { formatFloat, formatValue, goQuote, sprintf } from "./template/fmt.ts";

export interface Template {
  /** The name used in error messages (`template: NAME:1: ...`); "" by default, as Docker's. */
  readonly name: string;
  /** Renders `data` (also `$`); throws SkiffError InvalidArgument, e.g. for `{{.Foo}}` on a string. */
  execute(data: unknown): string;
  /** A copy that calls `funcs` in place of same-named functions, like Go's Template.Funcs. */
  withFuncs(funcs: Record<string, TemplateFunc>): Template;
}

export type CompileOptions = { name?: string; funcs?: Record<string, TemplateFunc> };

function lineOf(src: string, pos: number): number {
  let line = 1;
  for (let i = 0; i < pos && i < src.length; i++) if (src[i] === "\n") line++;
  return line;
}

function customSpecs(funcs: Record<string, TemplateFunc> | undefined): [string, FuncSpec][] {
  return Object.entries(funcs ?? {}).map(([k, fn]) => [k, { fn, min: 0, max: Number.POSITIVE_INFINITY }]);
}

class CompiledTemplate implements Template {
  readonly name: string;
  #src: string;
  #tree: Node[];
  #funcs: ReadonlyMap<string, FuncSpec>;

  constructor(name: string, src: string, tree: Node[], funcs: ReadonlyMap<string, FuncSpec>) {
    this.name = name;
    this.#src = src;
    this.#tree = tree;
    this.#funcs = funcs;
  }

  execute(data: unknown): string {
    try {
      return execute(this.#tree, data, { funcs: this.#funcs, src: this.#src });
    } catch (e) {
      if (e instanceof ExecError) throw this.#execError(e.message, e.span);
      throw e;
    }
  }

  withFuncs(funcs: Record<string, TemplateFunc>): Template {
    const merged = new Map([...this.#funcs, ...customSpecs(funcs)]);
    return new CompiledTemplate(this.name, this.#src, this.#tree, merged);
  }

  #execError(msg: string, span: Span): SkiffError {
    const line = lineOf(this.#src, span.pos);
    const col = span.pos - (this.#src.lastIndexOf("\n", span.pos - 1) + 1);
    let context = this.#src.slice(span.pos, span.end);
    if (context.length > 20) context = `${context.slice(0, 20)}...`;
    return new SkiffError(
      "InvalidArgument",
      `template: ${this.name}:${line}:${col}: executing "${this.name}" at <${context}>: ${msg}`,
    );
  }
}

/** Parses `src`; throws SkiffError InvalidArgument (`template: :1: unclosed action`). */
export function compileTemplate(src: string, opts: CompileOptions = {}): Template {
  const name = opts.name ?? "";
  const funcs = new Map<string, FuncSpec>([
    ...Object.entries(BUILTINS),
    ...Object.entries(DOCKER_FUNCS),
    ...customSpecs(opts.funcs),
  ]);
  try {
    return new CompiledTemplate(name, src, parse(src, new Set(funcs.keys())), funcs);
  } catch (e) {
    if (e instanceof ParseError || e instanceof LexError) {
      throw new SkiffError("InvalidArgument", `template: ${name}:${lineOf(src, e.pos)}: ${e.message}`);
    }
    throw e;
  }
}
