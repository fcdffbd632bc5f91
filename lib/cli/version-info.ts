/**
 * `skiff version`: the client's build facts as text or through --format.
 * Free of the CLI parser so main can answer the plain forms before loading it.
 */
import { arch } from "node:os";
import { API_VERSION, BUILT, GIT_COMMIT, VERSION } from "../version.ts";

function goArch(): string {
  const a = arch();
  return a === "x64" ? "amd64" : a;
}

export function clientVersion(): Record<string, string> {
  return {
    Version: VERSION,
    APIVersion: API_VERSION,
    BunVersion: Bun.version,
    GitCommit: GIT_COMMIT,
    Built: BUILT,
    OsArch: `linux/${goArch()}`,
    Os: "linux",
  };
}

/** What `skiff version [--format F]` prints. */
export async function renderVersion(format: string | undefined): Promise<string> {
  const client = clientVersion();
  if (!format) {
    const lines = [
      `Version:      ${client.Version}`,
      `API Version:  ${client.APIVersion}`,
      `Bun Version:  ${client.BunVersion}`,
      `Git Commit:   ${client.GitCommit}`,
      `Built:        ${client.Built || "unknown"}`,
      `OS/Arch:      ${client.OsArch}`,
    ];
    return `${lines.join("\n")}\n`;
  }
  const { formatSingleValue } = await import("./render.ts");
  return formatSingleValue({ Client: client }, format);
}

/**
 * The format asked for when `args` (after the verb) are a plain
 * `version [-f|--format F]`; undefined for anything else, which goes
 * through the parser (help, unknown flags, errors).
 */
export function plainVersionArgs(args: string[]): { format?: string } | undefined {
  if (args.length === 0) return {};
  const [a, b] = args;
  if (args.length === 1 && a?.startsWith("--format=")) return { format: a.slice("--format=".length) };
  if (args.length === 2 && (a === "-f" || a === "--format") && b !== undefined && !b.startsWith("-")) return { format: b };
  return undefined;
}
