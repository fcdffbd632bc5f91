/**
 * The DNS server of a user network: answers A queries for the names and
 * aliases of containers on the network (from members.json), and forwards
 * everything else to an upstream resolver, relaying its answer unchanged.
 */
import dnsPacket from "dns-packet";
import { statSync } from "node:fs";
import { join } from "node:path";
import { readMembers, isLive, type Member } from "./members.ts";

/** A/AAAA answers for `name`, or undefined when the name is not a member's. */
export function answerFor(members: Member[], qname: string, qtype: string): { found: boolean; addresses: string[] } {
  const name = qname.toLowerCase().replace(/\.$/, "");
  // A bare name or one with the network's domain ("db.dns.skiff").
  const short = name.endsWith(".dns.skiff") ? name.slice(0, -".dns.skiff".length) : name;
  const hits = members.filter((m) => m.aliases.some((a) => a.toLowerCase() === short));
  if (hits.length === 0) return { found: false, addresses: [] };
  return { found: true, addresses: qtype === "A" ? hits.map((m) => m.ip) : [] };
}

/** Builds the response to a query that a member name answers; undefined to forward it. */
export function localResponse(query: Buffer, members: Member[]): Buffer | undefined {
  let packet: dnsPacket.Packet;
  try {
    packet = dnsPacket.decode(query);
  } catch {
    return undefined;
  }
  const q = packet.questions?.[0];
  if (!q) return undefined;
  const r = answerFor(members, q.name, q.type);
  if (!r.found) return undefined;
  return dnsPacket.encode({
    id: packet.id ?? 0,
    type: "response",
    flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | dnsPacket.AUTHORITATIVE_ANSWER,
    questions: [q],
    answers: r.addresses.map((ip) => ({ type: "A", name: q.name, ttl: 0, class: "IN", data: ip })),
  });
}

interface Pending {
  port: number;
  address: string;
  clientId: number;
  timer: ReturnType<typeof setTimeout>;
}

/** Serves DNS on `listen`:53 (UDP) until stopped. */
export async function startDnsServer(opts: { listen: string; runDir: string; upstream: string }): Promise<{ stop(): void }> {
  let cache: { mtime: number; members: Member[] } = { mtime: -1, members: [] };
  const membersFile = join(opts.runDir, "members.json");
  const members = (): Member[] => {
    let mtime = 0;
    try {
      mtime = statSync(membersFile).mtimeMs;
    } catch {
      // none yet
    }
    if (mtime !== cache.mtime) cache = { mtime, members: readMembers(opts.runDir).filter((m) => isLive(m)) };
    return cache.members;
  };
  const pending = new Map<number, Pending>();
  let nextId = 1;

  const upstream = await Bun.udpSocket({
    socket: {
      data(_s, buf) {
        if (buf.length < 2) return;
        const id = buf.readUInt16BE(0);
        const p = pending.get(id);
        if (!p) return;
        pending.delete(id);
        clearTimeout(p.timer);
        const out = Buffer.from(buf);
        out.writeUInt16BE(p.clientId, 0);
        server.send(out, p.port, p.address);
      },
    },
  });

  const server = await Bun.udpSocket({
    hostname: opts.listen,
    port: 53,
    socket: {
      data(_s, buf, port, address) {
        const query = Buffer.from(buf);
        if (query.length < 12) return;
        const local = localResponse(query, members());
        if (local) {
          server.send(local, port, address);
          return;
        }
        // Forward under our own id, so answers to different clients never mix.
        const id = nextId;
        nextId = (nextId % 65535) + 1;
        const clientId = query.readUInt16BE(0);
        const forwarded = Buffer.from(query);
        forwarded.writeUInt16BE(id, 0);
        const timer = setTimeout(() => pending.delete(id), 5000);
        pending.set(id, { port, address, clientId, timer });
        upstream.send(forwarded, 53, opts.upstream);
      },
    },
  });

  return {
    stop() {
      server.close();
      upstream.close();
      for (const p of pending.values()) clearTimeout(p.timer);
    },
  };
}
