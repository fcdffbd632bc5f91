/**
 * A small JSON Schema (draft-07 subset) validator for the Kubernetes schema in
 * tests/fixtures/k8s: type, properties, required, additionalProperties,
 * propertyNames, items, minItems, $ref (#/definitions/...), enum, pattern,
 * minLength, maxLength, minimum, maximum, format int32/int64, anyOf, allOf.
 * Returns every problem with its path; [] means valid.
 */
export type Schema = Record<string, unknown>;

const INT_RANGES: Record<string, [number, number]> = { int32: [-2147483648, 2147483647], int64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER] };

function typeOf(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "number") return Number.isInteger(v) ? "integer" : "number";
  return typeof v;
}

export function validate(value: unknown, schema: Schema, root: Schema, path = "$"): string[] {
  const errors: string[] = [];
  if (typeof schema.$ref === "string") {
    const name = schema.$ref.replace(/^#\/definitions\//, "");
    const target = (root.definitions as Record<string, Schema> | undefined)?.[name];
    if (!target) return [`${path}: unknown $ref ${schema.$ref}`];
    return validate(value, target, root, path);
  }
  if (Array.isArray(schema.allOf)) for (const s of schema.allOf as Schema[]) errors.push(...validate(value, s, root, path));
  if (Array.isArray(schema.anyOf)) {
    const ok = (schema.anyOf as Schema[]).some((s) => validate(value, s, root, path).length === 0);
    if (!ok) errors.push(`${path}: matches none of anyOf`);
  }
  const t = typeOf(value);
  if (typeof schema.type === "string") {
    const want = schema.type;
    const fits = want === t || (want === "number" && t === "integer");
    if (!fits) return [...errors, `${path}: expected ${want}, got ${t}`];
  }
  if (Array.isArray(schema.enum) && !schema.enum.includes(value)) errors.push(`${path}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  if (t === "string") {
    const s = value as string;
    if (typeof schema.pattern === "string" && !new RegExp(schema.pattern).test(s)) errors.push(`${path}: ${JSON.stringify(s)} does not match ${schema.pattern}`);
    if (typeof schema.maxLength === "number" && s.length > schema.maxLength) errors.push(`${path}: longer than ${schema.maxLength}`);
    if (typeof schema.minLength === "number" && s.length < schema.minLength) errors.push(`${path}: shorter than ${schema.minLength}`);
  }
  if (t === "integer" || t === "number") {
    const n = value as number;
    const range = typeof schema.format === "string" ? INT_RANGES[schema.format] : undefined;
    if (range && (t !== "integer" || n < range[0] || n > range[1])) errors.push(`${path}: ${n} is not a valid ${schema.format}`);
    if (typeof schema.minimum === "number" && n < schema.minimum) errors.push(`${path}: ${n} < ${schema.minimum}`);
    if (typeof schema.maximum === "number" && n > schema.maximum) errors.push(`${path}: ${n} > ${schema.maximum}`);
  }
  if (t === "array") {
    const a = value as unknown[];
    if (typeof schema.minItems === "number" && a.length < schema.minItems) errors.push(`${path}: fewer than ${schema.minItems} items`);
    if (schema.items) a.forEach((item, i) => errors.push(...validate(item, schema.items as Schema, root, `${path}[${i}]`)));
  }
  if (t === "object") {
    const o = value as Record<string, unknown>;
    const props = (schema.properties ?? {}) as Record<string, Schema>;
    for (const r of (schema.required as string[] | undefined) ?? []) if (!(r in o)) errors.push(`${path}: missing required ${r}`);
    for (const [k, v] of Object.entries(o)) {
      if (schema.propertyNames) errors.push(...validate(k, schema.propertyNames as Schema, root, `${path}{${k}}`));
      if (props[k]) errors.push(...validate(v, props[k], root, `${path}.${k}`));
      else if (schema.additionalProperties === false) errors.push(`${path}: unknown field ${k}`);
      else if (typeof schema.additionalProperties === "object") errors.push(...validate(v, schema.additionalProperties as Schema, root, `${path}.${k}`));
    }
  }
  return errors;
}

const KINDS: Record<string, string> = {
  Pod: "io.k8s.api.core.v1.Pod",
  Service: "io.k8s.api.core.v1.Service",
  PersistentVolumeClaim: "io.k8s.api.core.v1.PersistentVolumeClaim",
};

/** Validates one Kubernetes object by its kind. */
export function validateKubeObject(obj: unknown, root: Schema): string[] {
  const kind = (obj as { kind?: string }).kind ?? "";
  const def = KINDS[kind];
  if (!def) return [`$: kind ${JSON.stringify(kind)} has no schema`];
  return validate(obj, { $ref: `#/definitions/${def}` }, root);
}
