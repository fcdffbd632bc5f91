/**
 * `X-Docker-Container-Path-Stat`, the header `docker cp` reads on
 * `HEAD`/`GET /containers/{id}/archive`: base64 of
 * `{"name","size","mode","mtime","linkTarget"}` where mode is a Go
 * os.FileMode (permission bits plus type bits such as ModeDir = 1<<31).
 * skiff's copy helper streams a tar of the path; the stat is read from the
 * first entry's header (PAX and GNU long names included).
 */

export interface PathStat {
  name: string;
  size: number;
  mode: number;
  mtime: string;
  linkTarget: string;
}

/** Go's os.FileMode type bits. */
export const GO_MODE = {
  dir: 2 ** 31,
  symlink: 2 ** 27,
  device: 2 ** 26,
  namedPipe: 2 ** 25,
  socket: 2 ** 24,
  setuid: 2 ** 23,
  setgid: 2 ** 22,
  charDevice: 2 ** 21,
  sticky: 2 ** 20,
} as const;

export interface TarHead {
  name: string;
  /** Unix permission and special bits (07777). */
  mode: number;
  size: number;
  mtime: Date;
  /** ustar typeflag: "0" file, "2" symlink, "5" dir, "1" hardlink, "3"/"4" devices, "6" fifo. */
  type: string;
  linkname: string;
}

function cstring(buf: Uint8Array, off: number, len: number): string {
  const slice = buf.subarray(off, off + len);
  const nul = slice.indexOf(0);
  return new TextDecoder().decode(nul < 0 ? slice : slice.subarray(0, nul));
}

function octal(buf: Uint8Array, off: number, len: number): number {
  const first = buf[off] as number;
  if (first & 0x80) {
    // base-256 (GNU) for big values
    let n = 0;
    for (let i = 1; i < len; i++) n = n * 256 + (buf[off + i] as number);
    return n;
  }
  const s = cstring(buf, off, len).trim();
  return s ? parseInt(s, 8) : 0;
}

function paxRecords(data: Uint8Array): Map<string, string> {
  const out = new Map<string, string>();
  const text = new TextDecoder().decode(data);
  let i = 0;
  while (i < text.length) {
    const sp = text.indexOf(" ", i);
    if (sp < 0) break;
    const len = Number(text.slice(i, sp));
    if (!Number.isFinite(len) || len <= 0) break;
    const rec = text.slice(sp + 1, i + len - 1);
    const eq = rec.indexOf("=");
    if (eq > 0) out.set(rec.slice(0, eq), rec.slice(eq + 1));
    i += len;
  }
  return out;
}

/**
 * Parses the first real entry of a tar from its first bytes; undefined
 * while more bytes are needed.
 */
export function parseFirstEntry(buf: Uint8Array): TarHead | undefined {
  let off = 0;
  let longName: string | undefined;
  let longLink: string | undefined;
  let pax = new Map<string, string>();
  for (;;) {
    if (buf.length - off < 512) return undefined;
    const type = String.fromCharCode(buf[off + 156] as number) || "0";
    const size = octal(buf, off + 124, 12);
    const dataStart = off + 512;
    const padded = Math.ceil(size / 512) * 512;
    if (type === "x" || type === "L" || type === "K" || type === "g") {
      if (buf.length < dataStart + size) return undefined;
      const data = buf.subarray(dataStart, dataStart + size);
      if (type === "x") pax = paxRecords(data);
      else if (type === "L") longName = cstring(data, 0, data.length);
      else if (type === "K") longLink = cstring(data, 0, data.length);
      off = dataStart + padded;
      continue;
    }
    const prefix = cstring(buf, off + 345, 155);
    const baseName = cstring(buf, off + 0, 100);
    const name = pax.get("path") ?? longName ?? (prefix ? `${prefix}/${baseName}` : baseName);
    const linkname = pax.get("linkpath") ?? longLink ?? cstring(buf, off + 157, 100);
    const mtimePax = pax.get("mtime");
    const mtime = mtimePax ? new Date(Number(mtimePax) * 1000) : new Date(octal(buf, off + 136, 12) * 1000);
    const paxSize = pax.get("size");
    return {
      name,
      mode: octal(buf, off + 100, 8) & 0o7777,
      size: paxSize ? Number(paxSize) : size,
      mtime,
      type: type === "\0" ? "0" : type,
      linkname,
    };
  }
}

/** Go's FileMode for a tar entry. */
export function goFileMode(head: Pick<TarHead, "mode" | "type">): number {
  let m = head.mode & 0o777;
  if (head.mode & 0o4000) m += GO_MODE.setuid;
  if (head.mode & 0o2000) m += GO_MODE.setgid;
  if (head.mode & 0o1000) m += GO_MODE.sticky;
  switch (head.type) {
    case "5":
      m += GO_MODE.dir;
      break;
    case "2":
      m += GO_MODE.symlink;
      break;
    case "3":
      m += GO_MODE.device + GO_MODE.charDevice;
      break;
    case "4":
      m += GO_MODE.device;
      break;
    case "6":
      m += GO_MODE.namedPipe;
      break;
  }
  return m;
}

/** The stat Docker reports for the copied path (`name` is the base name the client asked for). */
export function pathStatOf(head: TarHead, name: string): PathStat {
  return {
    name,
    size: head.type === "0" || head.type === "7" ? head.size : head.type === "5" ? 4096 : head.type === "2" ? head.linkname.length : 0,
    mode: goFileMode(head),
    mtime: head.mtime.toISOString(),
    linkTarget: head.type === "2" ? head.linkname : "",
  };
}

export function encodePathStat(stat: PathStat): string {
  return Buffer.from(JSON.stringify(stat)).toString("base64");
}
