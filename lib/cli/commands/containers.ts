/** Container verbs with Docker's flags: run, create, start, stop, kill, restart, rm, ps, logs, exec, attach, wait, inspect... */
import { Command, Option } from "commander";
import { collect, contextFor } from "../program.ts";
import { addResourceFlags } from "../resource-flags.ts";
import { trace } from "../../trace.ts";
import { addStats, addUpdate } from "./resources.ts";

function bool(v: string | undefined): boolean {
  if (v === undefined || v === "" || /^(true|1|yes)$/i.test(v)) return true;
  if (/^(false|0|no)$/i.test(v)) return false;
  throw new Error(`invalid boolean value ${JSON.stringify(v)}`);
}

/** Flags shared by run and create. */
function createFlags(cmd: Command): Command {
  return addResourceFlags(cmd)
    .option("-i, --interactive", "keep STDIN open even if not attached")
    .option("-t, --tty", "allocate a pseudo-TTY")
    .option("--name <name>", "assign a name to the container")
    .option("-e, --env <KEY=VALUE>", "set environment variables", collect)
    .option("--env-file <file>", "read in a file of environment variables", collect)
    .option("-w, --workdir <dir>", "working directory inside the container")
    .option("-u, --user <user[:group]>", "username or UID (format: <name|uid>[:<group|gid>])")
    .option("--entrypoint <command>", "overwrite the default ENTRYPOINT of the image")
    .option("-h, --hostname <name>", "container host name")
    .option("--domainname <name>", "container NIS domain name")
    .option("-l, --label <KEY=VALUE>", "set metadata on a container", collect)
    .option("--init", "run an init inside the container that forwards signals and reaps processes")
    .option("--read-only", "mount the container's root filesystem as read only")
    .option("--tmpfs <dir[:options]>", "mount a tmpfs directory", collect)
    .option("-v, --volume <src:dst[:opts]>", "bind mount a volume", collect)
    .option("--mount <mount>", "attach a filesystem mount to the container", collect)
    .option("--cap-add <cap>", "add Linux capabilities", collect)
    .option("--cap-drop <cap>", "drop Linux capabilities", collect)
    .option("--privileged", "give extended privileges to this container")
    .option("--security-opt <opt>", "security options", collect)
    .option("--ulimit <name=soft[:hard]>", "ulimit options", collect)
    .option("--stop-signal <signal>", "signal to stop the container")
    .option("--stop-timeout <seconds>", "timeout (in seconds) to stop a container")
    .option("--shm-size <size>", "size of /dev/shm")
    .option("--log-opt <opt>", "log driver options (max-size, max-file)", collect)
    .option("--sysctl <name=value>", "sysctl options", collect)
    .option("--group-add <group>", "add additional groups to join", collect)
    .option("--cidfile <file>", "write the container ID to the file")
    .option("--replace", "if a container with the same name exists, stop and remove it first")
    .option("--pidfile <file>", "write the pid of the container's shim (its supervisor, for systemd PIDFile=) to the file")
    .addOption(new Option("--sdnotify <mode>", "how systemd is told the container is ready (with NOTIFY_SOCKET)").choices(["conmon", "container", "healthy", "ignore"]))
    .addOption(new Option("--pull <policy>", "pull image before running").choices(["always", "missing", "never", "newer"]).default("missing"))
    .option("--platform <os/arch[/variant]>", "platform if the image is pulled")
    .option("--runtime <runtime>", "OCI runtime to use (runc, crun)")
    .option("--rm", "automatically remove the container when it exits")
    .option("-p, --publish <[ip:][hostPort:]containerPort[/proto]>", "publish a container's port(s) to the host", collect)
    .option("-P, --publish-all", "publish all exposed ports to free host ports")
    .option("--network <network>", "connect to a network: default, none, host, container:<name|id> or a network name")
    .addOption(new Option("--net <network>", "same as --network").hideHelp())
    .option("--network-alias <alias>", "add a network-scoped alias for the container", collect)
    .option("--dns <ip>", "set custom DNS servers", collect)
    .option("--dns-search <domain>", "set custom DNS search domains", collect)
    .option("--dns-option <option>", "set DNS options", collect)
    .option("--add-host <host:ip>", "add a custom host-to-IP mapping (host:ip)", collect)
    .option("--restart <policy>", "restart policy when the container exits: no, on-failure[:max-retries], always, unless-stopped")
    .option("--health-cmd <command>", "command to run to check health")
    .option("--health-interval <duration>", "time between running the check (e.g. 30s)")
    .option("--health-timeout <duration>", "maximum time to allow one check to run")
    .option("--health-start-period <duration>", "start period for the container to initialize")
    .option("--health-start-interval <duration>", "time between checks during the start period")
    .option("--health-retries <n>", "consecutive failures needed to report unhealthy")
    .option("--no-healthcheck", "disable any container-specified HEALTHCHECK")
    .option("--health-on-failure <action>", "action when the container turns unhealthy: none, kill, restart, stop")
    .argument("<image>", "image to run")
    .argument("[command...]", "command and arguments")
    .passThroughOptions();
}

async function actions(): Promise<typeof import("../container-actions.ts")> {
  return import("../container-actions.ts");
}

function addRun(parent: Command): void {
  createFlags(
    parent
      .command("run")
      .description("Create and run a new container from an image")
      .option("-d, --detach", "run container in background and print container ID")
      .option("--sig-proxy [bool]", "proxy received signals to the process", bool, true)
      .option("--detach-keys <keys>", "override the key sequence for detaching a container"),
  ).action(async (image: string, command: string[], opts: Record<string, unknown>, cmd: Command) => {
    // The shim's namespaces and start-up overlap loading the engine and building the context.
    const { EarlyShim, processShimHost } = await import("../../containers/shim-process.ts");
    trace("run: shim module");
    const early = EarlyShim.start(processShimHost());
    trace("run: early started");
    const ctx = await contextFor(cmd);
    trace("run: context");
    await (await actions()).runCommand(ctx, image, command, opts, early);
  });
}

function addCreate(parent: Command): void {
  createFlags(parent.command("create").description("Create a new container")).action(
    async (image: string, command: string[], opts: Record<string, unknown>, cmd: Command) => {
      await (await actions()).createCommand(await contextFor(cmd), image, command, opts);
    },
  );
}

function addStart(parent: Command): void {
  parent
    .command("start")
    .description("Start one or more stopped containers")
    .argument("[container...]")
    .option("--all-restart", "start every container whose restart policy wants it running (after a reboot)")
    .option("-a, --attach", "attach STDOUT/STDERR and forward signals")
    .option("-i, --interactive", "attach container's STDIN")
    .option("--detach-keys <keys>", "override the key sequence for detaching a container")
    .action(async (names: string[], opts: { attach?: boolean; interactive?: boolean; detachKeys?: string; allRestart?: boolean }, cmd: Command) => {
      await (await actions()).startCommand(await contextFor(cmd), names, opts);
    });
}

function addStop(parent: Command, name: "stop" | "restart"): void {
  const c = parent
    .command(name)
    .description(name === "stop" ? "Stop one or more running containers" : "Restart one or more containers")
    .argument(name === "stop" ? "[container...]" : "<container...>")
    .option("-t, --time <seconds>", "seconds to wait before killing the container")
    .option("-s, --signal <signal>", "signal to send to the container");
  if (name === "stop") {
    c.option("-i, --ignore", "ignore containers that do not exist").option("--cidfile <file>", "read the container ID from the file", collect);
  }
  c.action(async (names: string[], opts: { time?: string; signal?: string; ignore?: boolean; cidfile?: string[] }, cmd: Command) => {
    const a = await actions();
    if (name === "stop") await a.stopCommand(await contextFor(cmd), names, opts);
    else await a.restartCommand(await contextFor(cmd), names, opts);
  });
}

function addKill(parent: Command): void {
  parent
    .command("kill")
    .description("Kill one or more running containers")
    .argument("<container...>")
    .option("-s, --signal <signal>", "signal to send to the container", "KILL")
    .action(async (names: string[], opts: { signal: string }, cmd: Command) => {
      await (await actions()).killCommand(await contextFor(cmd), names, opts);
    });
}

function addRm(parent: Command, name: string, aliases: string[] = []): void {
  parent
    .command(name)
    .aliases(aliases)
    .description("Remove one or more containers")
    .argument("[container...]")
    .option("-f, --force", "force the removal of a running container (uses SIGKILL)")
    .option("-v, --volumes", "remove anonymous volumes associated with the container")
    .option("-i, --ignore", "ignore containers that do not exist")
    .option("--cidfile <file>", "read the container ID from the file", collect)
    .option("-t, --time <seconds>", "with --force: stop gracefully first, killing after this many seconds")
    .action(async (names: string[], opts: { force?: boolean; volumes?: boolean; ignore?: boolean; cidfile?: string[]; time?: string }, cmd: Command) => {
      await (await actions()).rmCommand(await contextFor(cmd), names, opts);
    });
}

function addPs(parent: Command, name: string, aliases: string[] = []): void {
  parent
    .command(name)
    .aliases(aliases)
    .description("List containers")
    .option("-a, --all", "show all containers (default shows just running)")
    .option("-q, --quiet", "only display container IDs")
    .option("-n, --last <n>", "show n last created containers (includes all states)")
    .option("-l, --latest", "show the latest created container (includes all states)")
    .option("--no-trunc", "don't truncate output")
    .option("-s, --size", "display total file sizes (not computed; accepted)")
    .option("-f, --filter <filter>", "filter output based on conditions provided", collect)
    .option("--format <format>", "format output: table, json or a Go template")
    .action(async (opts: Record<string, unknown>, cmd: Command) => {
      (await import("../ps-actions.ts")).psCommand(await contextFor(cmd), opts);
    });
}

function addLogs(parent: Command): void {
  parent
    .command("logs")
    .description("Fetch the logs of a container")
    .argument("<container>")
    .option("-f, --follow", "follow log output")
    .option("-n, --tail <n>", "number of lines to show from the end of the logs", "all")
    .option("--since <time>", "show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m)")
    .option("--until <time>", "show logs before a timestamp or relative time")
    .option("-t, --timestamps", "show timestamps")
    .option("--details", "accepted for compatibility")
    .action(async (name: string, opts: Record<string, unknown>, cmd: Command) => {
      await (await import("../container-view-actions.ts")).logsCommand(await contextFor(cmd), name, opts);
    });
}

function addExec(parent: Command): void {
  parent
    .command("exec")
    .description("Execute a command in a running container")
    .argument("<container>")
    .argument("<command...>")
    .option("-d, --detach", "detached mode: run command in the background")
    .option("-i, --interactive", "keep STDIN open even if not attached")
    .option("-t, --tty", "allocate a pseudo-TTY")
    .option("-e, --env <KEY=VALUE>", "set environment variables", collect)
    .option("--env-file <file>", "read in a file of environment variables", collect)
    .option("-u, --user <user[:group]>", "username or UID")
    .option("-w, --workdir <dir>", "working directory inside the container")
    .option("--privileged", "accepted for compatibility")
    .option("--detach-keys <keys>", "override the key sequence for detaching")
    .passThroughOptions()
    .action(async (name: string, command: string[], opts: Record<string, unknown>, cmd: Command) => {
      await (await actions()).execCommand(await contextFor(cmd), name, command, opts);
    });
}

function addAttach(parent: Command): void {
  parent
    .command("attach")
    .description("Attach local standard input, output, and error streams to a running container")
    .argument("<container>")
    .option("--no-stdin", "do not attach STDIN")
    .option("--sig-proxy [bool]", "proxy all received signals to the process", bool, true)
    .option("--detach-keys <keys>", "override the key sequence for detaching a container")
    .action(async (name: string, opts: Record<string, unknown>, cmd: Command) => {
      await (await actions()).attachCommand(await contextFor(cmd), name, opts);
    });
}

function addWait(parent: Command): void {
  parent
    .command("wait")
    .description("Block until one or more containers stop, then print their exit codes")
    .argument("<container...>")
    .action(async (names: string[], _opts: unknown, cmd: Command) => {
      await (await actions()).waitCommand(await contextFor(cmd), names);
    });
}

function addInspect(parent: Command, name: string, kind: "any" | "container"): void {
  parent
    .command(name)
    .description(kind === "any" ? "Return low-level information on containers or images" : "Display detailed information on one or more containers")
    .argument("<name...>")
    .option("-f, --format <format>", "format output using a Go template or json")
    .option("-s, --size", "accepted for compatibility")
    .addOption(new Option("--type <type>", "only inspect objects of this type").choices(["container", "image"]))
    .action(async (names: string[], opts: { format?: string; type?: string }, cmd: Command) => {
      await (await import("../container-view-actions.ts")).inspectCommand(await contextFor(cmd), names, { ...opts, kind: kind === "container" ? "container" : opts.type });
    });
}

function addSimple(parent: Command, name: string, description: string, fn: "pauseCommand" | "unpauseCommand"): void {
  parent
    .command(name)
    .description(description)
    .argument("<container...>")
    .action(async (names: string[], _opts: unknown, cmd: Command) => {
      await (await actions())[fn](await contextFor(cmd), names);
    });
}

async function extras(): Promise<typeof import("../container-extra-actions.ts")> {
  return import("../container-extra-actions.ts");
}

function addTop(parent: Command): void {
  parent
    .command("top")
    .description("Display the running processes of a container")
    .usage("[options] CONTAINER [ps OPTIONS]")
    .argument("<container>")
    .argument("[psOptions...]", "options for ps (default -ef)")
    .passThroughOptions()
    .allowUnknownOption()
    .action(async (name: string, psOptions: string[], _opts: unknown, cmd: Command) => {
      await (await extras()).topCommand(await contextFor(cmd), name, psOptions);
    });
}

function addRename(parent: Command): void {
  parent
    .command("rename")
    .description("Rename a container")
    .argument("<container>")
    .argument("<newName>")
    .action(async (name: string, newName: string, _opts: unknown, cmd: Command) => {
      await (await extras()).renameCommand(await contextFor(cmd), name, newName);
    });
}

function addCp(parent: Command): void {
  parent
    .command("cp")
    .description("Copy files/folders between a container and the local filesystem ('-' is a tar stream on stdin or stdout)")
    .usage("[options] CONTAINER:SRC_PATH DEST_PATH|-\n       skiff cp [options] SRC_PATH|- CONTAINER:DEST_PATH")
    .argument("<src>")
    .argument("<dest>")
    .option("-a, --archive", "archive mode (copy all uid/gid information)")
    .option("-L, --follow-link", "always follow symbol link in SRC_PATH")
    .option("-q, --quiet", "suppress progress output (automatic without a terminal)")
    .action(async (src: string, dest: string, opts: { archive?: boolean; followLink?: boolean; quiet?: boolean }, cmd: Command) => {
      await (await extras()).cpCommand(await contextFor(cmd), src, dest, opts);
    });
}

function addPort(parent: Command): void {
  parent
    .command("port")
    .description("List port mappings or a specific mapping for the container")
    .argument("<container>")
    .argument("[privatePort]", "PRIVATE_PORT[/PROTO]")
    .action(async (name: string, port: string | undefined, _opts: unknown, cmd: Command) => {
      await (await extras()).portCommand(await contextFor(cmd), name, port);
    });
}

function addDiff(parent: Command): void {
  parent
    .command("diff")
    .description("Inspect changes to files or directories on a container's filesystem")
    .argument("<container>")
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      await (await extras()).diffCommand(await contextFor(cmd), name);
    });
}

function addCommit(parent: Command): void {
  parent
    .command("commit")
    .description("Create a new image from a container's changes")
    .argument("<container>")
    .argument("[repository]", "REPOSITORY[:TAG] of the new image")
    .option("-a, --author <author>", 'author (e.g. "John Hannibal Smith <hannibal@a-team.com>")')
    .option("-m, --message <message>", "commit message")
    .option("-c, --change <instruction>", "apply a Dockerfile instruction to the image", collect)
    .option("-p, --pause", "accepted for Docker compatibility: the container is not paused", true)
    .action(async (name: string, repository: string | undefined, opts: { author?: string; message?: string; change?: string[] }, cmd: Command) => {
      await (await extras()).commitCommand(await contextFor(cmd), name, repository, opts);
    });
}

function addExport(parent: Command): void {
  parent
    .command("export")
    .description("Export a stopped container's filesystem as a tar archive")
    .argument("<container>")
    .option("-o, --output <file>", "write to a file instead of STDOUT")
    .action(async (name: string, opts: { output?: string }, cmd: Command) => {
      await (await extras()).exportCommand(await contextFor(cmd), name, opts);
    });
}

function addContainerPrune(parent: Command): void {
  parent
    .command("prune")
    .description("Remove all stopped containers")
    .option("-f, --force", "do not prompt for confirmation")
    .option("--filter <filter>", "provide filter values (e.g. until=<timestamp>, label=<key>=<value>)", collect)
    .action(async (opts: { force?: boolean; filter?: string[] }, cmd: Command) => {
      await (await extras()).containerPruneCommand(await contextFor(cmd), opts);
    });
}

function addHealthcheck(program: Command): void {
  program
    .command("healthcheck")
    .description("Manage healthchecks")
    .command("run")
    .description("Run a container's healthcheck now; exit 0 when healthy, 1 when not")
    .argument("<container>")
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      await (await actions()).healthcheckCommand(await contextFor(cmd), name);
    });
}

function containerGroup(program: Command): void {
  const c = program.command("container").description("Manage containers");
  addRun(c);
  addCreate(c);
  addStart(c);
  addStop(c, "stop");
  addStop(c, "restart");
  addKill(c);
  addRm(c, "rm", ["remove"]);
  addPs(c, "ls", ["list", "ps"]);
  addLogs(c);
  addExec(c);
  addAttach(c);
  addWait(c);
  addInspect(c, "inspect", "container");
  addSimple(c, "pause", "Pause all processes within one or more containers", "pauseCommand");
  addSimple(c, "unpause", "Unpause all processes within one or more containers", "unpauseCommand");
  addTop(c);
  addRename(c);
  addCp(c);
  addPort(c);
  addDiff(c);
  addCommit(c);
  addExport(c);
  addContainerPrune(c);
  addStats(c);
  addUpdate(c);
}

export const containerVerbs: Record<string, (program: Command) => void> = {
  run: addRun,
  create: addCreate,
  start: addStart,
  stop: (p) => addStop(p, "stop"),
  restart: (p) => addStop(p, "restart"),
  kill: addKill,
  rm: (p) => addRm(p, "rm"),
  ps: (p) => addPs(p, "ps"),
  logs: addLogs,
  exec: addExec,
  attach: addAttach,
  wait: addWait,
  inspect: (p) => addInspect(p, "inspect", "any"),
  pause: (p) => addSimple(p, "pause", "Pause all processes within one or more containers", "pauseCommand"),
  unpause: (p) => addSimple(p, "unpause", "Unpause all processes within one or more containers", "unpauseCommand"),
  top: addTop,
  rename: addRename,
  cp: addCp,
  port: addPort,
  diff: addDiff,
  commit: addCommit,
  export: addExport,
  stats: addStats,
  update: addUpdate,
  container: containerGroup,
  healthcheck: addHealthcheck,
};
