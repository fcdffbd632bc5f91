/**
 * A container's `skiff run` flags, rebuilt from its record: what
 * `generate systemd --new` puts in ExecStart to create the same container
 * again. Pure. Left out on purpose: --rm, --name, --detach, --restart (the
 * unit decides those), labels skiff sets itself (the unit name), and
 * anything the record does not keep (resource limits are the one known gap).
 */
import type { CreateOptions, MountOption } from "../containers/options.ts";
import type { ContainerRecord } from "../containers/record.ts";

/** Labels a run under a unit adds by itself. */
export const UNIT_LABELS = ["SKIFF_SYSTEMD_UNIT", "PODMAN_SYSTEMD_UNIT"];

const ANONYMOUS = /^[a-f0-9]{64}$/;

function mountFlag(m: MountOption): string[] {
  if (m.type === "tmpfs") return ["--tmpfs", [m.target, [...(m.readOnly ? ["ro"] : []), ...m.options].join(",")].filter((x) => x !== "").join(":")];
  const modes = [...(m.readOnly ? ["ro"] : []), ...m.options];
  if (m.type === "volume" && (!m.source || ANONYMOUS.test(m.source))) return ["-v", m.target];
  return ["-v", [m.source ?? "", m.target, ...(modes.length > 0 ? [modes.join(",")] : [])].join(":")];
}

/** "1500ms" / "30s": Go-style durations, as the --health-* flags take them. */
function duration(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

function healthFlags(o: CreateOptions): string[] {
  const out: string[] = [];
  if (o.noHealthcheck) return ["--no-healthcheck"];
  const h = o.healthcheck;
  const test = h.test;
  if (test && test[0] === "CMD-SHELL" && test.length > 1) out.push("--health-cmd", test.slice(1).join(" "));
  else if (test && test[0] === "CMD" && test.length > 1) out.push("--health-cmd", test.slice(1).join(" "));
  else if (test && test[0] === "NONE") out.push("--no-healthcheck");
  if (h.intervalMs) out.push("--health-interval", duration(h.intervalMs));
  if (h.timeoutMs) out.push("--health-timeout", duration(h.timeoutMs));
  if (h.startPeriodMs) out.push("--health-start-period", duration(h.startPeriodMs));
  if (h.retries) out.push("--health-retries", String(h.retries));
  if (o.healthOnFailure !== "none") out.push("--health-on-failure", o.healthOnFailure);
  return out;
}

function portFlag(p: CreateOptions["ports"][number]): string {
  const host = p.hostPort > 0 ? `${p.hostIp !== "0.0.0.0" ? `${p.hostIp}:` : ""}${p.hostPort}:` : p.hostIp !== "0.0.0.0" ? `${p.hostIp}::` : "";
  return `${host}${p.containerPort}${p.protocol !== "tcp" ? `/${p.protocol}` : ""}`;
}

/** Flags (without `run`, --name, --rm) then image and command. */
export function runArgsOf(record: ContainerRecord): string[] {
  const o = record.options;
  const a: string[] = [];
  const add = (flag: string, v: string | undefined): void => {
    if (v !== undefined && v !== "") a.push(flag, v);
  };
  if (o.tty) a.push("-t");
  if (o.openStdin) a.push("-i");
  for (const e of o.env) a.push("-e", e);
  add("-w", o.workdir);
  add("-u", o.user);
  let cmd = o.cmd ?? [];
  if (o.entrypoint) {
    a.push("--entrypoint", o.entrypoint[0] ?? "");
    cmd = [...o.entrypoint.slice(1), ...(o.cmd ?? [])];
  }
  add("--hostname", o.hostname);
  add("--domainname", o.domainname);
  for (const [k, v] of Object.entries(o.labels)) if (!UNIT_LABELS.includes(k)) a.push("-l", v === "" ? k : `${k}=${v}`);
  if (o.init) a.push("--init");
  if (o.readOnly) a.push("--read-only");
  for (const m of o.mounts) a.push(...mountFlag(m));
  for (const c of o.capAdd) a.push("--cap-add", c);
  for (const c of o.capDrop) a.push("--cap-drop", c);
  if (o.privileged) a.push("--privileged");
  for (const s of o.securityOpt) a.push("--security-opt", s);
  for (const u of o.ulimits) a.push("--ulimit", `${u.name}=${u.soft}:${u.hard}`);
  add("--stop-signal", o.stopSignal);
  if (o.stopTimeout !== undefined) a.push("--stop-timeout", String(o.stopTimeout));
  if (o.shmSize !== undefined) a.push("--shm-size", String(o.shmSize));
  if (o.logMaxSize !== undefined) a.push("--log-opt", `max-size=${o.logMaxSize}`);
  if (o.logMaxFiles !== undefined) a.push("--log-opt", `max-file=${o.logMaxFiles}`);
  for (const [k, v] of Object.entries(o.sysctls)) a.push("--sysctl", `${k}=${v}`);
  for (const g of o.groupAdd) a.push("--group-add", g);
  if (o.network !== "default") a.push("--network", o.network);
  for (const n of o.networkAliases) a.push("--network-alias", n);
  for (const p of o.ports) a.push("-p", portFlag(p));
  if (o.publishAll) a.push("-P");
  for (const d of o.dns) a.push("--dns", d);
  for (const d of o.dnsSearch) a.push("--dns-search", d);
  for (const d of o.dnsOptions) a.push("--dns-option", d);
  for (const h of o.addHosts) a.push("--add-host", h);
  a.push(...healthFlags(o));
  if (o.sdNotify === "container" || o.sdNotify === "healthy") a.push(`--sdnotify=${o.sdNotify}`);
  return [...a, record.image.name, ...cmd];
}
