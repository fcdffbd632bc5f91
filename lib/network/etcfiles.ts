/**
 * The per-container /etc/hosts, /etc/resolv.conf and /etc/hostname, as pure
 * functions of the container's names, addresses and --dns/--add-host flags.
 */
import { SkiffError } from "../errors.ts";

export interface HostEntry {
  host: string;
  ip: string;
}

/** `--add-host name:ip` (also `name=ip`, Docker 25). `host-gateway` needs a gateway address. */
export function parseAddHost(spec: string, gateway?: string): HostEntry {
  const sep = spec.includes("=") ? spec.indexOf("=") : spec.indexOf(":");
  if (sep <= 0) throw new SkiffError("InvalidArgument", `invalid argument ${JSON.stringify(spec)} for "--add-host": expected host:ip`);
  const host = spec.slice(0, sep);
  let ip = spec.slice(sep + 1).replace(/^\[|\]$/g, "");
  if (ip === "host-gateway") {
    if (!gateway) throw new SkiffError("InvalidArgument", "--add-host host-gateway: this network has no gateway address");
    ip = gateway;
  }
  if (!/^[0-9.]+$/.test(ip) && !ip.includes(":")) throw new SkiffError("InvalidArgument", `invalid IP address in --add-host ${JSON.stringify(spec)}`);
  return { host, ip };
}

export function hostsFile(opts: { hostname: string; domainname?: string | undefined; addresses: string[]; extra: HostEntry[]; aliases?: string[] }): string {
  const fqdn = opts.domainname ? `${opts.hostname}.${opts.domainname} ` : "";
  const names = [opts.hostname, ...(opts.aliases ?? [])].filter((n, i, a) => a.indexOf(n) === i).join(" ");
  const lines = [
    "127.0.0.1\tlocalhost",
    "::1\tlocalhost ip6-localhost ip6-loopback",
    "fe00::0\tip6-localnet",
    "ff00::0\tip6-mcastprefix",
    "ff02::1\tip6-allnodes",
    "ff02::2\tip6-allrouters",
  ];
  for (const e of opts.extra) lines.push(`${e.ip}\t${e.host}`);
  for (const a of opts.addresses) lines.push(`${a}\t${fqdn}${names}`);
  if (opts.addresses.length === 0) lines.push(`127.0.1.1\t${fqdn}${names}`);
  return `${lines.join("\n")}\n`;
}

export interface ResolvConf {
  nameservers: string[];
  search: string[];
  options: string[];
}

export function parseResolvConf(text: string): ResolvConf {
  const out: ResolvConf = { nameservers: [], search: [], options: [] };
  for (const raw of text.split("\n")) {
    const line = raw.replace(/[#;].*$/, "").trim();
    if (!line) continue;
    const [key, ...rest] = line.split(/\s+/);
    if (key === "nameserver" && rest[0]) out.nameservers.push(rest[0]);
    else if (key === "search" || key === "domain") out.search = rest;
    else if (key === "options") out.options.push(...rest);
  }
  return out;
}

function isLoopback(ip: string): boolean {
  return ip.startsWith("127.") || ip === "::1";
}

/**
 * The container's resolv.conf: --dns/--dns-search/--dns-option win;
 * otherwise the host's, with loopback nameservers (systemd-resolved's
 * 127.0.0.53, unreachable from the container) replaced by `forwarder` (the
 * network helper's DNS forwarder) or public-free fallbacks removed.
 */
export function resolvConfFile(opts: {
  host: ResolvConf;
  dns?: string[] | undefined;
  dnsSearch?: string[] | undefined;
  dnsOptions?: string[] | undefined;
  /** A nameserver the container can reach that forwards to the host's. */
  forwarder?: string | undefined;
}): string {
  let nameservers: string[];
  if (opts.dns && opts.dns.length > 0) nameservers = opts.dns;
  else if (opts.forwarder) nameservers = [opts.forwarder];
  else nameservers = opts.host.nameservers.filter((n) => !isLoopback(n));
  const search = opts.dnsSearch && opts.dnsSearch.length > 0 ? opts.dnsSearch.filter((s) => s !== ".") : opts.host.search;
  const options = opts.dnsOptions && opts.dnsOptions.length > 0 ? opts.dnsOptions : opts.host.options.filter((o) => !o.startsWith("trust-ad"));
  const lines: string[] = [];
  if (search.length > 0) lines.push(`search ${search.join(" ")}`);
  for (const n of nameservers) lines.push(`nameserver ${n}`);
  if (options.length > 0) lines.push(`options ${options.join(" ")}`);
  return `${lines.join("\n")}\n`;
}

export function hostnameFile(hostname: string): string {
  return `${hostname}\n`;
}
