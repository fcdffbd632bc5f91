/** Image verbs: pull, push, images, image inspect/history/prune, tag, rmi, save, load, import, login, logout. */
import { Command, Option } from "commander";
import { collect, contextFor } from "../program.ts";
import type { Context } from "../../context.ts";

function parseBool(v: string | boolean | undefined): boolean {
  if (v === undefined || v === true || v === "") return true;
  if (v === false) return false;
  if (/^(true|1|yes)$/i.test(v)) return true;
  if (/^(false|0|no)$/i.test(v)) return false;
  throw new Error(`invalid boolean value ${JSON.stringify(v)}`);
}

function tlsOption(): Option {
  return new Option("--tls-verify [bool]", "require HTTPS and verify certificates (false allows plain http)").argParser((v) =>
    parseBool(v),
  );
}

async function ctxOf(cmd: Command): Promise<Context> {
  return contextFor(cmd);
}

function addPull(parent: Command, name: string): void {
  parent
    .command(name)
    .description("Download an image from a registry")
    .argument("<name>", "image reference, e.g. busybox or 127.0.0.1:5000/app:1")
    .option("--platform <os/arch[/variant]>", "platform to pick from a multi-platform image")
    .option("-q, --quiet", "print only the image name")
    .option("-a, --all-tags", "not supported; accepted for compatibility")
    .option("--authfile <path>", "credentials file")
    .addOption(tlsOption())
    .action(async (name: string, opts: { platform?: string; quiet?: boolean; authfile?: string; tlsVerify?: boolean }, cmd: Command) => {
      const ctx = await ctxOf(cmd);
      const { pullCommand } = await import("../image-actions.ts");
      await pullCommand(ctx, name, opts);
    });
}

function addImages(parent: Command, name: string, aliases: string[] = []): void {
  parent
    .command(name)
    .aliases(aliases)
    .description("List images")
    .argument("[reference]", "only images matching REPOSITORY[:TAG]")
    .option("-a, --all", "show all images (including intermediate ones)")
    .option("-q, --quiet", "only show image ids")
    .option("--digests", "show digests")
    .option("--no-trunc", "do not truncate output")
    .option("-f, --filter <filter>", "filter output (reference=, dangling=, before=, since=, label=)", collect)
    .option("--format <format>", "format output: table, json or a Go template")
    .action(async (reference: string | undefined, opts: ListOpts, cmd: Command) => {
      const ctx = await ctxOf(cmd);
      const { listCommand } = await import("../image-actions.ts");
      listCommand(ctx, reference, opts);
    });
}

export interface ListOpts {
  all?: boolean;
  quiet?: boolean;
  digests?: boolean;
  trunc?: boolean;
  filter?: string[];
  format?: string;
}

function addInspect(parent: Command, name: string): void {
  parent
    .command(name)
    .description("Display detailed information on images")
    .argument("<image...>")
    .option("-f, --format <format>", "format output: json or a Go template")
    .action(async (names: string[], opts: { format?: string }, cmd: Command) => {
      const ctx = await ctxOf(cmd);
      const { inspectCommand } = await import("../image-actions.ts");
      inspectCommand(ctx, names, opts);
    });
}

function addHistory(parent: Command, name: string): void {
  parent
    .command(name)
    .description("Show the history of an image")
    .argument("<image>")
    .option("-H, --human [bool]", "print sizes and dates in human readable format", parseBool, true)
    .option("--no-trunc", "do not truncate output")
    .option("-q, --quiet", "only show image ids")
    .option("--format <format>", "format output: table, json or a Go template")
    .action(async (image: string, opts: { human: boolean; trunc?: boolean; quiet?: boolean; format?: string }, cmd: Command) => {
      const ctx = await ctxOf(cmd);
      const { historyCommand } = await import("../image-actions.ts");
      historyCommand(ctx, image, opts);
    });
}

function addTag(parent: Command, name: string): void {
  parent
    .command(name)
    .description("Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE")
    .argument("<source>")
    .argument("<target...>")
    .action(async (source: string, targets: string[], _opts: unknown, cmd: Command) => {
      const ctx = await ctxOf(cmd);
      const { tagImage } = await import("../../images/remove.ts");
      for (const t of targets) await tagImage(ctx, source, t);
    });
}

function addRmi(parent: Command, name: string, aliases: string[] = []): void {
  parent
    .command(name)
    .aliases(aliases)
    .description("Remove one or more images")
    .argument("<image...>")
    .option("-f, --force", "force removal of the image")
    .option("--no-prune", "do not delete untagged parents")
    .action(async (names: string[], opts: { force?: boolean; prune?: boolean }, cmd: Command) => {
      const ctx = await ctxOf(cmd);
      const { rmiCommand } = await import("../image-actions.ts");
      await rmiCommand(ctx, names, opts);
    });
}

function addPrune(parent: Command): void {
  parent
    .command("prune")
    .description("Remove unused images")
    .option("-a, --all", "remove all images not used by a container, not just dangling ones")
    .option("-f, --force", "do not prompt for confirmation")
    .option("--filter <filter>", "accepted for compatibility", collect)
    .action(async (opts: { all?: boolean; force?: boolean }, cmd: Command) => {
      const ctx = await ctxOf(cmd);
      const { pruneCommand } = await import("../image-actions.ts");
      await pruneCommand(ctx, opts);
    });
}

function addPush(parent: Command, name: string): void {
  parent
    .command(name)
    .description("Upload an image to a registry")
    .argument("<image>", "local image")
    .argument("[destination]", "registry reference to push to (default: the image's name)")
    .option("-q, --quiet", "suppress progress output")
    .option("--authfile <path>", "credentials file")
    .addOption(tlsOption())
    .action(async (image: string, dest: string | undefined, opts: { quiet?: boolean; authfile?: string; tlsVerify?: boolean }, cmd: Command) => {
      const ctx = await ctxOf(cmd);
      const { pushCommand } = await import("../image-actions.ts");
      await pushCommand(ctx, image, dest, opts);
    });
}

function addSave(parent: Command, name: string): void {
  parent
    .command(name)
    .description("Save one or more images to a tar archive (streamed to STDOUT by default)")
    .argument("<image...>")
    .option("-o, --output <file>", "write to a file instead of STDOUT")
    .addOption(new Option("--format <format>", "archive format").choices(["docker-archive", "oci-archive"]).default("docker-archive"))
    .action(async (images: string[], opts: { output?: string; format: "docker-archive" | "oci-archive" }, cmd: Command) => {
      const ctx = await ctxOf(cmd);
      const { saveCommand } = await import("../image-actions.ts");
      await saveCommand(ctx, images, opts);
    });
}

function addLoad(parent: Command, name: string): void {
  parent
    .command(name)
    .description("Load images from a tar archive (docker-archive or oci-archive) or STDIN")
    .option("-i, --input <file>", "read from a file instead of STDIN")
    .option("-q, --quiet", "suppress the load output")
    .action(async (opts: { input?: string; quiet?: boolean }, cmd: Command) => {
      const ctx = await ctxOf(cmd);
      const { loadCommand } = await import("../image-actions.ts");
      await loadCommand(ctx, opts);
    });
}

function addImport(parent: Command, name: string): void {
  parent
    .command(name)
    .description("Import the contents from a tarball to create a filesystem image")
    .argument("<file>", "tarball path, or - for STDIN")
    .argument("[reference]", "name for the new image")
    .option("-c, --change <instruction>", "apply a Dockerfile instruction (CMD, ENTRYPOINT, ENV, WORKDIR, USER, LABEL, EXPOSE)", collect)
    .option("-m, --message <message>", "commit message for the imported image")
    .option("--platform <os/arch[/variant]>", "platform of the imported image")
    .action(async (file: string, reference: string | undefined, opts: { change?: string[]; message?: string; platform?: string }, cmd: Command) => {
      const ctx = await ctxOf(cmd);
      const { importCommand } = await import("../image-actions.ts");
      await importCommand(ctx, file, reference, opts);
    });
}

function addImageGroup(program: Command): void {
  const image = program.command("image").description("Manage images");
  addPull(image, "pull");
  addPush(image, "push");
  addImages(image, "ls", ["list"]);
  addInspect(image, "inspect");
  addHistory(image, "history");
  addTag(image, "tag");
  addRmi(image, "rm", ["remove"]);
  addPrune(image);
  addSave(image, "save");
  addLoad(image, "load");
  addImport(image, "import");
}

function addLogin(program: Command): void {
  program
    .command("login")
    .description("Log in to a registry")
    .argument("<server>", "registry host, e.g. 127.0.0.1:5000")
    .option("-u, --username <name>", "username")
    .option("-p, --password <password>", "password (prefer --password-stdin)")
    .option("--password-stdin", "read the password from STDIN")
    .option("--authfile <path>", "credentials file to write")
    .addOption(tlsOption())
    .action(async (server: string, opts: { username?: string; password?: string; passwordStdin?: boolean; authfile?: string; tlsVerify?: boolean }, cmd: Command) => {
      const ctx = await ctxOf(cmd);
      const { loginCommand } = await import("../image-actions.ts");
      await loginCommand(ctx, server, opts);
    });
}

function addLogout(program: Command): void {
  program
    .command("logout")
    .description("Log out from a registry")
    .argument("[server]", "registry host (default docker.io)")
    .option("-a, --all", "remove credentials for all registries")
    .option("--authfile <path>", "credentials file")
    .action(async (server: string | undefined, opts: { all?: boolean; authfile?: string }, cmd: Command) => {
      const ctx = await ctxOf(cmd);
      const { logoutCommand } = await import("../image-actions.ts");
      await logoutCommand(ctx, server, opts);
    });
}

/** Top-level verbs this module provides, each registered only when used (startup time). */
export const imageVerbs: Record<string, (program: Command) => void> = {
  pull: (p) => addPull(p, "pull"),
  push: (p) => addPush(p, "push"),
  images: (p) => addImages(p, "images"),
  tag: (p) => addTag(p, "tag"),
  rmi: (p) => addRmi(p, "rmi"),
  save: (p) => addSave(p, "save"),
  load: (p) => addLoad(p, "load"),
  import: (p) => addImport(p, "import"),
  history: (p) => addHistory(p, "history"),
  image: addImageGroup,
  login: addLogin,
  logout: addLogout,
};
