/**
 * Kubernetes YAML in and out, with the `yaml` package: several documents
 * separated by `---`, a comment header on output.
 */
import { parseAllDocuments, stringify } from "yaml";
import { SkiffError } from "../errors.ts";

export const GENERATED_HEADER = (version: string): string =>
  `# Save the output of this file and use kubectl create -f to import it into Kubernetes.\n#\n# Created with skiff v${version}\n`;

export function toYaml(objects: readonly unknown[], opts: { header?: string } = {}): string {
  const docs = objects.map((o) => stringify(o, { lineWidth: 0 }));
  return `${opts.header ?? ""}${docs.join("---\n")}`;
}

/** Every non-empty document of a YAML stream, as plain data. */
export function parseYamlDocuments(text: string, what: string): unknown[] {
  const out: unknown[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new SkiffError("InvalidArgument", `${what}: ${doc.errors[0]?.message ?? "invalid YAML"}`);
    const value: unknown = doc.toJS();
    if (value !== null && value !== undefined) out.push(value);
  }
  return out;
}
