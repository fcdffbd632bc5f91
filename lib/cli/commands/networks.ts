/** network create|ls|inspect|rm|prune|connect|disconnect */
import type { Command } from "commander";
import { SkiffError } from "../../errors.ts";
import { eachName, finishBulk } from "../bulk.ts";
import { collect, contextFor } from "../program.ts";
import { truncateId } from "../render/ids.ts";
import { writeStderr, writeStdout } from "../stdio.ts";

function parseKeyValues(entries: string[] | undefined, what: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of entries ?? []) {
    const i = e.indexOf("=");
    if (i === 0) throw new SkiffError("InvalidArgument", `invalid ${what}: ${e}`);
    if (i < 0) out[e] = "";
    else out[e.slice(0, i)] = e.slice(i + 1);
  }
  return out;
}

function networkGroup(program: Command): void {
  const n = program.command("network").description("Manage networks");

  n.command("create")
    .description("Create a network (a bridge with DNS by container name)")
    .argument("<name>")
    .option("-d, --driver <driver>", "driver to manage the network (bridge)", "bridge")
    .option("--subnet <cidr>", "subnet in CIDR format (default: a free /24 in 10.89.0.0/16)")
    .option("--gateway <ip>", "gateway for the subnet")
    .option("--internal", "restrict external access to the network")
    .option("-l, --label <KEY=VALUE>", "set metadata on a network", collect)
    .option("-o, --opt <KEY=VALUE>", "set driver specific options", collect)
    .option("--ipv6", "not supported; accepted for compatibility")
    .option("--ignore", "do nothing when a network of that name exists")
    .action(async (name: string, opts: { driver: string; subnet?: string; gateway?: string; internal?: boolean; label?: string[]; opt?: string[]; ignore?: boolean }, cmd: Command) => {
      if (opts.driver !== "bridge") throw new SkiffError("InvalidArgument", `network driver ${opts.driver} is not supported (only bridge)`);
      const ctx = await contextFor(cmd);
      ctx.ensureStorage();
      const { NetworkStore } = await import("../../network/store.ts");
      const existing = opts.ignore ? new NetworkStore(ctx.paths).find(name) : undefined;
      if (existing) {
        writeStdout(`${existing.id}\n`);
        return;
      }
      const rec = await new NetworkStore(ctx.paths).create({
        name,
        subnet: opts.subnet,
        gateway: opts.gateway,
        internal: opts.internal,
        labels: parseKeyValues(opts.label, "label"),
        options: parseKeyValues(opts.opt, "option"),
      });
      writeStdout(`${rec.id}\n`);
    });

  n.command("ls")
    .aliases(["list"])
    .description("List networks")
    .option("-q, --quiet", "only display network IDs")
    .option("--no-trunc", "do not truncate the output")
    .option("-f, --filter <filter>", "provide filter values (name=, id=, driver=, label=)", collect)
    .option("--format <format>", "format output: table, json or a Go template")
    .action(async (opts: { quiet?: boolean; trunc?: boolean; filter?: string[]; format?: string }, cmd: Command) => {
      const ctx = await contextFor(cmd);
      const { allNetworks } = await import("../../network/views.ts");
      let nets = allNetworks(ctx);
      for (const f of opts.filter ?? []) {
        const i = f.indexOf("=");
        const [k, v] = [f.slice(0, i), f.slice(i + 1)];
        if (k === "name") nets = nets.filter((x) => x.name.includes(v));
        else if (k === "id") nets = nets.filter((x) => x.id.startsWith(v));
        else if (k === "driver") nets = nets.filter((x) => x.driver === v);
        else if (k === "label") {
          const [lk, lv] = v.split("=", 2) as [string, string | undefined];
          nets = nets.filter((x) => lk in x.labels && (lv === undefined || x.labels[lk] === lv));
        } else if (k === "type") nets = nets.filter((x) => (v === "builtin" ? x.builtin : !x.builtin));
        else throw new SkiffError("InvalidArgument", `invalid filter '${k}'`);
      }
      const noTrunc = opts.trunc === false;
      if (opts.quiet) {
        for (const x of nets) writeStdout(`${noTrunc ? x.id : truncateId(x.id)}\n`);
        return;
      }
      const rows = nets.map((x) => ({
        ID: noTrunc ? x.id : truncateId(x.id),
        Name: x.name,
        Driver: x.driver,
        Scope: "local",
        IPv6: "false",
        Internal: String(x.internal),
        Labels: Object.entries(x.labels)
          .map(([k, v]) => `${k}=${v}`)
          .join(","),
        CreatedAt: x.created,
      }));
      const { printList } = await import("../output.ts");
      printList(rows, {
        format: opts.format,
        columns: [
          { header: "NETWORK ID", field: "ID" },
          { header: "NAME", field: "Name" },
          { header: "DRIVER", field: "Driver" },
          { header: "SCOPE", field: "Scope" },
        ],
        headers: { ID: "NETWORK ID" },
      });
    });

  n.command("inspect")
    .description("Display detailed information on one or more networks")
    .argument("<network...>")
    .option("-f, --format <format>", "format output using a Go template or json")
    .action(async (names: string[], opts: { format?: string }, cmd: Command) => {
      const ctx = await contextFor(cmd);
      const { allNetworks, inspectNetwork } = await import("../../network/views.ts");
      const all = allNetworks(ctx);
      const out: unknown[] = [];
      let missing = 0;
      for (const name of names) {
        const hit = all.find((x) => x.name === name || x.id === name) ?? all.filter((x) => x.id.startsWith(name))[0];
        if (!hit) {
          missing += 1;
          writeStderr(`Error: network ${name} not found\n`);
          continue;
        }
        out.push(inspectNetwork(ctx, hit));
      }
      if (out.length > 0 || !opts.format) (await import("../output.ts")).printValue(out, opts.format);
      if (missing > 0) throw new (await import("../main.ts")).ExitStatus(1);
    });

  n.command("rm")
    .aliases(["remove"])
    .description("Remove one or more networks")
    .argument("<network...>")
    .option("-f, --force", "do not error if the network does not exist")
    .action(async (names: string[], opts: { force?: boolean }, cmd: Command) => {
      const ctx = await contextFor(cmd);
      const { removeNetwork } = await import("../../network/ops.ts");
      const outcomes = await eachName(names, (name) => removeNetwork(ctx, name));
      for (const o of outcomes) if (o.ok) writeStdout(`${o.value}\n`);
      finishBulk(
        outcomes.filter((o) => !(opts.force && !o.ok && o.error.kind === "NotFound")),
        "rm",
      );
    });

  n.command("prune")
    .description("Remove all unused networks")
    .option("-f, --force", "do not prompt for confirmation")
    .option("--filter <filter>", "accepted for compatibility", collect)
    .action(async (_opts: { force?: boolean }, cmd: Command) => {
      const ctx = await contextFor(cmd);
      const { pruneNetworks } = await import("../../network/ops.ts");
      const removed = await pruneNetworks(ctx);
      if (removed.length > 0) writeStdout(`Deleted Networks:\n${removed.map((r) => `${r}\n`).join("")}`);
    });

  n.command("connect")
    .description("Connect a container to a network")
    .argument("<network>")
    .argument("<container>")
    .option("--alias <alias>", "add network-scoped alias for the container", collect)
    .action(async (network: string, container: string, opts: { alias?: string[] }, cmd: Command) => {
      const ctx = await contextFor(cmd);
      const { connectNetwork } = await import("../../network/ops.ts");
      const record = ctx.containers.resolve(container);
      const live = await connectNetwork(ctx, network, record, { aliases: opts.alias ?? [] });
      const { currentState } = await import("../../containers/ops.ts");
      if (!live && currentState(ctx, record).status === "running") writeStderr(`WARNING: ${container} joins ${network} when it is next started\n`);
    });

  n.command("disconnect")
    .description("Disconnect a container from a network")
    .argument("<network>")
    .argument("<container>")
    .option("-f, --force", "force the container to disconnect from a network")
    .action(async (network: string, container: string, opts: { force?: boolean }, cmd: Command) => {
      const ctx = await contextFor(cmd);
      const { disconnectNetwork } = await import("../../network/ops.ts");
      await disconnectNetwork(ctx, network, ctx.containers.resolve(container), { force: opts.force ?? false });
    });
}

export const networkVerbs: Record<string, (program: Command) => void> = { network: networkGroup };
