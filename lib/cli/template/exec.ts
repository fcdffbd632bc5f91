/**
 * Executes a parsed template against JSON-shaped data with Go's semantics:
 * missing map keys print `<no value>`, field access on a non-object is an
 * error, maps range in sorted key order, `and`/`or` short-circuit.
 */
import { formatValue, goTypeName, isPlainObject, mapEntries } from "./fmt.ts";
import { TemplateArgError, truth, type FuncSpec } from "./funcs.ts";
import type { ArgNode, CommandNode, Node, PipeNode } from "./parser.ts";

export type Span = { pos: number; end: number };

export class ExecError extends Error {
  readonly span: Span;
  constructor(message: string, span: Span) {
    super(message);
    this.span = span;
  }
}

/** Marks "no value piped in" (distinct from a piped undefined). */
const NONE: unique symbol = Symbol("none");
type Final = unknown;

type Flow = "normal" | "break" | "continue";

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Runs `nodes` with `data` as both `.` and `$`; throws ExecError. */
export function execute(nodes: Node[], data: unknown, env: { funcs: ReadonlyMap<string, FuncSpec>; src: string }): string {
  const s = new State(data, env.funcs, env.src);
  s.walk(data, nodes);
  return s.out.join("");
}

class State {
  out: string[] = [];
  #vars: { name: string; value: unknown }[];
  #funcs: ReadonlyMap<string, FuncSpec>;
  #src: string;

  constructor(data: unknown, funcs: ReadonlyMap<string, FuncSpec>, src: string) {
    this.#vars = [{ name: "$", value: data }];
    this.#funcs = funcs;
    this.#src = src;
  }

  walk(dot: unknown, nodes: Node[]): Flow {
    for (const node of nodes) {
      const flow = this.#walkNode(dot, node);
      if (flow !== "normal") return flow;
    }
    return "normal";
  }

  #walkNode(dot: unknown, node: Node): Flow {
    switch (node.kind) {
      case "text":
        this.out.push(node.text);
        return "normal";
      case "action": {
        const v = this.#pipeline(dot, node.pipe, true);
        if (node.pipe.decl.length === 0) this.out.push(v === undefined || v === null ? "<no value>" : formatValue(v));
        return "normal";
      }
      case "break": case "continue":
        return node.kind;
      case "if": case "with": {
        const mark = this.#vars.length;
        const v = this.#pipeline(dot, node.pipe, true);
        let flow: Flow = "normal";
        if (truth(v)) flow = this.walk(node.kind === "with" ? v : dot, node.list);
        else if (node.elseList) flow = this.walk(dot, node.elseList);
        this.#vars.length = mark;
        return flow;
      }
      case "range":
        return this.#range(dot, node.pipe, node.list, node.elseList);
    }
  }

  #range(dot: unknown, pipe: PipeNode, list: Node[], elseList: Node[] | undefined): Flow {
    const mark = this.#vars.length;
    const v = this.#pipeline(dot, pipe, false);
    let items: [unknown, unknown][];
    if (v === undefined || v === null) items = [];
    else if (Array.isArray(v)) items = v.map((x, i) => [i, x]);
    else if (typeof v === "number" && Number.isInteger(v)) {
      if (pipe.decl.length > 1) throw new ExecError(`can't use ${v} to iterate over more than one variable`, pipe);
      items = Array.from({ length: Math.max(v, 0) }, (_, i) => [i, i]);
    } else {
      const entries = mapEntries(v);
      if (!entries) throw new ExecError(`range can't iterate over ${formatValue(v)}`, pipe);
      items = entries;
    }
    if (items.length === 0) {
      return elseList ? this.walk(dot, elseList) : "normal";
    }
    for (const [key, elem] of items) {
      this.#vars.length = mark;
      const values = pipe.decl.length === 2 ? [key, elem] : [elem];
      pipe.decl.forEach((name, k) => {
        if (pipe.isAssign) this.#setVar(name, values[k], pipe);
        else this.#vars.push({ name, value: values[k] });
      });
      const flow = this.walk(elem, list);
      if (flow === "break") break;
    }
    this.#vars.length = mark;
    return "normal";
  }

  #pipeline(dot: unknown, pipe: PipeNode, declare: boolean): unknown {
    let value: Final = NONE;
    for (const cmd of pipe.cmds) value = this.#command(dot, cmd, value);
    if (declare) {
      for (const name of pipe.decl) {
        if (pipe.isAssign) this.#setVar(name, value, pipe);
        else this.#vars.push({ name, value });
      }
    }
    return value;
  }

  #lookupVar(name: string, span: Span): unknown {
    for (let i = this.#vars.length - 1; i >= 0; i--) {
      const v = this.#vars[i];
      if (v?.name === name) return v.value;
    }
    throw new ExecError(`undefined variable: ${name}`, span);
  }

  #setVar(name: string, value: unknown, span: Span): void {
    for (let i = this.#vars.length - 1; i >= 0; i--) {
      const v = this.#vars[i];
      if (v?.name === name) {
        v.value = value;
        return;
      }
    }
    throw new ExecError(`undefined variable: ${name}`, span);
  }

  #command(dot: unknown, cmd: CommandNode, final: Final): unknown {
    const first = cmd.args[0];
    if (!first) throw new ExecError("empty command", cmd);
    switch (first.kind) {
      case "field": return this.#fieldChain(dot, dot, first, first.chain, cmd.args, final);
      case "chain": return this.#fieldChain(dot, this.#arg(dot, first.node), first, first.chain, cmd.args, final);
      case "variable": {
        const value = this.#lookupVar(first.name, first);
        if (first.chain.length === 0) {
          this.#notAFunction(cmd.args, final);
          return value;
        }
        return this.#fieldChain(dot, value, first, first.chain, cmd.args, final);
      }
      case "identifier": return this.#function(dot, first.name, cmd, final);
      case "pipe":
        this.#notAFunction(cmd.args, final);
        return this.#pipeline(dot, first, true);
      case "dot": this.#notAFunction(cmd.args, final); return dot;
      case "nil": throw new ExecError("nil is not a command", first);
      case "literal": this.#notAFunction(cmd.args, final); return first.value;
    }
  }

  #notAFunction(args: ArgNode[], final: Final): void {
    const head = args[0];
    if (head && (args.length > 1 || final !== NONE)) {
      throw new ExecError(`can't give argument to non-function ${this.#src.slice(head.pos, head.end)}`, head);
    }
  }

  #arg(dot: unknown, node: ArgNode): unknown {
    switch (node.kind) {
      case "dot": return dot;
      case "nil": return null;
      case "literal": return node.value;
      case "field": return this.#fieldChain(dot, dot, node, node.chain, [node], NONE);
      case "chain": return this.#fieldChain(dot, this.#arg(dot, node.node), node, node.chain, [node], NONE);
      case "variable": {
        const value = this.#lookupVar(node.name, node);
        return node.chain.length === 0 ? value : this.#fieldChain(dot, value, node, node.chain, [node], NONE);
      }
      case "identifier": return this.#function(dot, node.name, { pos: node.pos, end: node.end, args: [node] }, NONE);
      case "pipe": return this.#pipeline(dot, node, true);
    }
  }

  #fieldChain(dot: unknown, receiver: unknown, node: ArgNode, chain: string[], args: ArgNode[], final: Final): unknown {
    let r = receiver;
    chain.forEach((name, i) => {
      const last = i === chain.length - 1;
      r = this.#field(dot, name, node, last ? args : [node], last ? final : NONE, r);
    });
    return r;
  }

  #field(dot: unknown, name: string, node: ArgNode, args: ArgNode[], final: Final, receiver: unknown): unknown {
    const hasArgs = args.length > 1 || final !== NONE;
    if (receiver === undefined) return undefined;
    if (receiver === null) throw new ExecError(`nil pointer evaluating interface {}.${name}`, node);
    const isObject = typeof receiver === "object" && !Array.isArray(receiver) && !(receiver instanceof Date);
    if (!isObject) throw new ExecError(`can't evaluate field ${name} in type ${goTypeName(receiver)}`, node);
    let found: boolean;
    let value: unknown;
    if (receiver instanceof Map) {
      found = receiver.has(name);
      value = receiver.get(name);
    } else if (isPlainObject(receiver)) {
      found = Object.hasOwn(receiver, name);
      value = receiver[name];
    } else {
      // A class instance: a Go struct with fields and methods.
      found = name in receiver && !(name in Object.prototype);
      value = found ? (receiver as Record<string, unknown>)[name] : undefined;
      if (!found) throw new ExecError(`can't evaluate field ${name} in type ${goTypeName(receiver)}`, node);
    }
    if (typeof value === "function") {
      const argv = args.slice(1).map((a) => this.#arg(dot, a));
      if (final !== NONE) argv.push(final);
      try {
        return (value as (...a: unknown[]) => unknown).apply(receiver, argv);
      } catch (e) {
        throw new ExecError(`error calling ${name}: ${message(e)}`, node);
      }
    }
    if (hasArgs) throw new ExecError(`${name} is not a method but has arguments`, node);
    return found ? value : undefined;
  }

  #function(dot: unknown, name: string, cmd: CommandNode, final: Final): unknown {
    const spec = this.#funcs.get(name);
    if (!spec) throw new ExecError(`"${name}" is not a defined function`, cmd);
    const nodes = cmd.args.slice(1);
    const count = nodes.length + (final === NONE ? 0 : 1);
    if (count < spec.min || count > spec.max) {
      const want = spec.min === spec.max ? `${spec.min}` : `at least ${spec.min}`;
      throw new ExecError(`wrong number of args for ${name}: want ${want} got ${count}`, cmd);
    }
    if (spec.lazy) {
      // Short-circuit: stop at the first argument that decides the result.
      let v: unknown;
      for (const n of nodes) {
        v = this.#arg(dot, n);
        if (truth(v) === (spec.lazy === "or")) return v;
      }
      return final === NONE ? v : final;
    }
    const argv = nodes.map((n) => this.#arg(dot, n));
    if (final !== NONE) argv.push(final);
    try {
      return spec.fn(...argv);
    } catch (e) {
      if (e instanceof ExecError) throw e;
      if (e instanceof TemplateArgError) throw new ExecError(e.message, cmd);
      throw new ExecError(`error calling ${name}: ${message(e)}`, cmd);
    }
  }
}
