/**
 * The few libc calls Bun and Node do not expose: flock, prctl, xattrs, mknod,
 * inode flags.
 * Loaded lazily through bun:ffi so commands that need none of them pay
 * nothing at startup.
 */
import { dlopen, FFIType, ptr, read, type Pointer } from "bun:ffi";
import { closeSync, constants, openSync } from "node:fs";

const SYMBOLS = {
  flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  prctl: { args: [FFIType.i32, FFIType.u64, FFIType.u64, FFIType.u64, FFIType.u64], returns: FFIType.i32 },
  lsetxattr: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i32 },
  lgetxattr: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.u64], returns: FFIType.i64 },
  llistxattr: { args: [FFIType.ptr, FFIType.ptr, FFIType.u64], returns: FFIType.i64 },
  mknod: { args: [FFIType.ptr, FFIType.u32, FFIType.u64], returns: FFIType.i32 },
  __errno_location: { args: [], returns: FFIType.ptr },
  getpgrp: { args: [], returns: FFIType.i32 },
  setsid: { args: [], returns: FFIType.i32 },
  umask: { args: [FFIType.u32], returns: FFIType.u32 },
  mount: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.u64, FFIType.ptr], returns: FFIType.i32 },
  umount2: { args: [FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
  waitpid: { args: [FFIType.i32, FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
  dup2: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  ioctl: { args: [FFIType.i32, FFIType.u64, FFIType.ptr], returns: FFIType.i32 },
  socketpair: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
} as const;

type Symbols = ReturnType<typeof dlopen<typeof SYMBOLS>>["symbols"];
const loaded: Partial<Symbols> = {};

/**
 * Each function is bound on first use, alone: bun:ffi compiles a trampoline
 * per symbol, and the shim (whose memory counts per container) needs only a
 * handful of them.
 */
const symbols = new Proxy(loaded, {
  get(target, name: string) {
    const have = (target as Record<string, unknown>)[name];
    if (have) return have;
    const def = SYMBOLS[name as keyof typeof SYMBOLS];
    if (!def) return undefined;
    const fn = dlopen("libc.so.6", { [name]: def } as Record<string, typeof def>).symbols[name];
    (target as Record<string, unknown>)[name] = fn;
    return fn;
  },
}) as Symbols;

function libc(): Symbols {
  return symbols;
}

const ERRNO_NAMES: Record<number, string> = {
  1: "EPERM",
  2: "ENOENT",
  4: "EINTR",
  11: "EAGAIN",
  13: "EACCES",
  17: "EEXIST",
  22: "EINVAL",
  28: "ENOSPC",
  30: "EROFS",
  34: "ERANGE",
  61: "ENODATA",
  95: "EOPNOTSUPP",
  10: "ECHILD",
  16: "EBUSY",
};

export function errno(): number {
  const p = libc().__errno_location() as Pointer;
  return read.i32(p, 0);
}

/** An Error shaped like Node's, so errors.ts maps it by `code`. */
export class ErrnoError extends Error {
  readonly code: string;
  readonly errno: number;
  constructor(call: string, num: number, path?: string) {
    const code = ERRNO_NAMES[num] ?? `E${num}`;
    super(`${call}${path ? ` ${path}` : ""}: ${code}`);
    this.code = code;
    this.errno = num;
  }
}

function cstr(s: string): Buffer {
  return Buffer.from(`${s}\0`);
}

export const LOCK_SH = 1;
export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;

/** flock(2); returns false when LOCK_NB was given and the lock is held. */
export function flock(fd: number, op: number): boolean {
  const rc = libc().flock(fd, op);
  if (rc === 0) return true;
  const e = errno();
  if (e === 11) return false; // EWOULDBLOCK
  throw new ErrnoError("flock", e);
}

const PR_SET_CHILD_SUBREAPER = 36;
const PR_SET_PDEATHSIG = 1;

export function setChildSubreaper(): void {
  if (libc().prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) !== 0) throw new ErrnoError("prctl", errno());
}

export function setParentDeathSignal(signal: number): void {
  if (libc().prctl(PR_SET_PDEATHSIG, signal, 0, 0, 0) !== 0) throw new ErrnoError("prctl", errno());
}

export function setsid(): number {
  return libc().setsid();
}

export function lsetxattr(path: string, name: string, value: Uint8Array): void {
  const v = Buffer.from(value);
  // A zero-length buffer has no address; pass a 1-byte buffer and size 0.
  const buf = v.length > 0 ? v : Buffer.alloc(1);
  const rc = libc().lsetxattr(cstr(path), cstr(name), buf, v.length, 0);
  if (rc !== 0) throw new ErrnoError("lsetxattr", errno(), `${path} ${name}`);
}

export function lgetxattr(path: string, name: string): Buffer | undefined {
  const s = libc();
  let size = 256;
  for (;;) {
    const buf = Buffer.alloc(size);
    const n = Number(s.lgetxattr(cstr(path), cstr(name), buf, size));
    if (n >= 0) return buf.subarray(0, n);
    const e = errno();
    if (e === 61 || e === 95) return undefined; // ENODATA, ENOTSUP
    if (e === 34 && size < 1 << 20) {
      size *= 8;
      continue;
    }
    throw new ErrnoError("lgetxattr", e, `${path} ${name}`);
  }
}

export function llistxattr(path: string): string[] {
  const s = libc();
  let size = 1024;
  for (;;) {
    const buf = Buffer.alloc(size);
    const n = Number(s.llistxattr(cstr(path), buf, size));
    if (n >= 0) {
      return buf
        .subarray(0, n)
        .toString("latin1")
        .split("\0")
        .filter((x) => x.length > 0);
    }
    const e = errno();
    if (e === 95) return [];
    if (e === 34 && size < 1 << 20) {
      size *= 8;
      continue;
    }
    throw new ErrnoError("llistxattr", e, path);
  }
}

export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;
export const S_IFIFO = 0o010000;

export function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major);
  const mi = BigInt(minor);
  return ((ma & 0xfffff000n) << 32n) | ((ma & 0xfffn) << 8n) | ((mi & 0xffffff00n) << 12n) | (mi & 0xffn);
}

export function mknod(path: string, mode: number, dev: bigint): void {
  const rc = libc().mknod(cstr(path), mode, dev);
  if (rc !== 0) throw new ErrnoError("mknod", errno(), path);
}

export const MS_RDONLY = 1;
export const MS_NOSUID = 2;
export const MS_NODEV = 4;
export const MS_BIND = 4096;
export const MS_REC = 16384;
export const MS_PRIVATE = 1 << 18;
export const MNT_DETACH = 2;

/** mount(2). `data` is the filesystem's option string. */
export function mount(source: string, target: string, fstype: string, flags: number, data?: string): void {
  const rc = libc().mount(cstr(source), cstr(target), cstr(fstype), flags, data === undefined ? null : cstr(data));
  if (rc !== 0) throw new ErrnoError("mount", errno(), `${fstype} on ${target}`);
}

export function umount(target: string, flags = 0): void {
  const rc = libc().umount2(cstr(target), flags);
  if (rc !== 0) throw new ErrnoError("umount", errno(), target);
}

const WNOHANG = 1;

/**
 * Non-blocking waitpid for one child: undefined while it runs, else its
 * status as a shell would report it (code, or 128 + signal).
 */
export function reapChild(pid: number): number | undefined {
  const status = new Int32Array(1);
  const rc = libc().waitpid(pid, status, WNOHANG);
  if (rc === 0) return undefined;
  if (rc < 0) {
    const e = errno();
    if (e === 10) return -1; // ECHILD: not ours, or already reaped
    throw new ErrnoError("waitpid", e);
  }
  const st = status[0] ?? 0;
  const sig = st & 0x7f;
  if (sig === 0) return (st >> 8) & 0xff;
  return 128 + sig;
}

/** dup2(2): used by the shim to point its stdio at /dev/null once the sync line is sent. */
export function dup2(oldfd: number, newfd: number): void {
  if (libc().dup2(oldfd, newfd) < 0) throw new ErrnoError("dup2", errno());
}

const FIONREAD = 0x541b;

/** Bytes waiting to be read on `fd` (a pipe or a socket); 0 when there are none or the call fails. */
export function bytesReadable(fd: number): number {
  const n = new Int32Array(2);
  return libc().ioctl(fd, FIONREAD, ptr(n)) === 0 ? (n[0] ?? 0) : 0;
}

const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_CLOEXEC = 0o2000000;

/**
 * A connected pair of unix stream sockets, close-on-exec (a child gets one
 * only where it is placed in its stdio). Unlike a pipe, each end reads and
 * writes: one pair carries a message each way between two processes.
 */
export function socketPair(): [number, number] {
  const fds = new Int32Array(2);
  if (libc().socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ptr(fds)) !== 0) throw new ErrnoError("socketpair", errno());
  return [fds[0] ?? -1, fds[1] ?? -1];
}

export function umask(mask: number): number {
  return libc().umask(mask);
}

const FS_IOC_GETFLAGS = 0x80086601;
const FS_IOC_SETFLAGS = 0x40086602;
const FS_TOPDIR_FL = 0x00020000;

/**
 * Sets the "top of directory hierarchies" inode flag (`chattr +T`) on a
 * directory: ext4 then places each new subdirectory in a block group of
 * its own choosing (Orlov) instead of next to this one. False where the
 * filesystem has no such flag (tmpfs, xfs...), which changes nothing.
 */
export function markTopDir(path: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  } catch {
    return false;
  }
  try {
    // The kernel reads and writes an int here, whatever the ioctl's declared size.
    const flags = new Int32Array(2);
    if (libc().ioctl(fd, FS_IOC_GETFLAGS, ptr(flags)) !== 0) return false;
    if (((flags[0] ?? 0) & FS_TOPDIR_FL) !== 0) return true;
    flags[0] = (flags[0] ?? 0) | FS_TOPDIR_FL;
    return libc().ioctl(fd, FS_IOC_SETFLAGS, ptr(flags)) === 0;
  } finally {
    closeSync(fd);
  }
}
