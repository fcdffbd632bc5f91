/**
 * Unix datagram sockets through bun:ffi: Bun (and node:dgram) only speak
 * UDP, and systemd's notification protocol (sd_notify) is a datagram on an
 * AF_UNIX socket. Sending is one sendto(2); receiving is a non-blocking
 * socket read on demand (the shim polls it on a timer, see shim/notify.ts).
 * Addresses starting with "@" are Linux abstract sockets, as in
 * NOTIFY_SOCKET.
 *
 *   sendDatagram("/run/user/1000/systemd/notify", "READY=1");
 *   const sock = DatagramSocket.bind("/run/x/notify.sock");
 *   for (let m = sock.receive(); m; m = sock.receive()) relay(m);
 */
import { dlopen, FFIType, read, type Pointer } from "bun:ffi";

const SYMBOLS = {
  socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  bind: { args: [FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
  sendto: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i64 },
  recv: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i64 },
  close: { args: [FFIType.i32], returns: FFIType.i32 },
  __errno_location: { args: [], returns: FFIType.ptr },
} as const;

type Symbols = ReturnType<typeof dlopen<typeof SYMBOLS>>["symbols"];
let lib: Symbols | undefined;

function libc(): Symbols {
  lib ??= dlopen("libc.so.6", SYMBOLS).symbols;
  return lib;
}

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const MSG_DONTWAIT = 0x40;
const MSG_NOSIGNAL = 0x4000;
const EAGAIN = 11;
const EINTR = 4;
/** sizeof(sun_path) */
const SUN_PATH_MAX = 108;
/** Big enough for any notification (systemd's limit is 4096 bytes). */
const RECV_BUFFER = 64 * 1024;

const ERRNO: Record<number, string> = { 1: "EPERM", 2: "ENOENT", 11: "EAGAIN", 13: "EACCES", 20: "ENOTDIR", 22: "EINVAL", 98: "EADDRINUSE", 111: "ECONNREFUSED" };

function errno(): number {
  return read.i32(libc().__errno_location() as Pointer, 0);
}

/** An Error shaped like Node's (`code`), so lib/errors.ts maps it. */
export class SocketError extends Error {
  readonly code: string;
  constructor(call: string, num: number, address: string) {
    const code = ERRNO[num] ?? `E${num}`;
    super(`${call} ${address}: ${code}`);
    this.code = code;
  }
}

/**
 * struct sockaddr_un for `address` and its length. "@name" is abstract:
 * sun_path starts with a NUL and the length covers exactly the name.
 */
export function sockaddrUn(address: string): { addr: Buffer; len: number } {
  const abstract = address.startsWith("@");
  const name = Buffer.from(abstract ? address.slice(1) : address);
  const pathLen = abstract ? name.length + 1 : name.length;
  if (address.length === 0 || pathLen >= SUN_PATH_MAX + (abstract ? 1 : 0)) {
    throw new SocketError("sockaddr", 22, address);
  }
  const addr = Buffer.alloc(2 + SUN_PATH_MAX);
  addr.writeUInt16LE(AF_UNIX, 0);
  name.copy(addr, abstract ? 3 : 2);
  // A path is NUL-terminated (the buffer is zeroed); an abstract name is not.
  return { addr, len: 2 + pathLen + (abstract ? 0 : 1) };
}

function openSocket(address: string, nonBlocking: boolean): number {
  const fd = libc().socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | (nonBlocking ? SOCK_NONBLOCK : 0), 0);
  if (fd < 0) throw new SocketError("socket", errno(), address);
  return fd;
}

/** Sends one datagram to `address` from an unbound socket. Throws SocketError (ENOENT, ECONNREFUSED, EACCES...). */
export function sendDatagram(address: string, message: string | Uint8Array): void {
  const { addr, len } = sockaddrUn(address);
  const data = typeof message === "string" ? Buffer.from(message) : Buffer.from(message);
  const fd = openSocket(address, false);
  try {
    for (;;) {
      const n = Number(libc().sendto(fd, data.length > 0 ? data : Buffer.alloc(1), data.length, MSG_NOSIGNAL, addr, len));
      if (n >= 0) return;
      const e = errno();
      if (e !== EINTR) throw new SocketError("sendto", e, address);
    }
  } finally {
    libc().close(fd);
  }
}

/** A bound, non-blocking datagram socket. */
export class DatagramSocket {
  readonly #fd: number;
  readonly address: string;
  readonly #buffer = Buffer.alloc(RECV_BUFFER);
  #closed = false;

  private constructor(fd: number, address: string) {
    this.#fd = fd;
    this.address = address;
  }

  /** Binds a new socket at `address` (the path must not exist). */
  static bind(address: string): DatagramSocket {
    const { addr, len } = sockaddrUn(address);
    const fd = openSocket(address, true);
    if (libc().bind(fd, addr, len) !== 0) {
      const e = errno();
      libc().close(fd);
      throw new SocketError("bind", e, address);
    }
    return new DatagramSocket(fd, address);
  }

  /** The next pending datagram, or undefined when none is waiting. */
  receive(): Uint8Array | undefined {
    if (this.#closed) return undefined;
    for (;;) {
      const n = Number(libc().recv(this.#fd, this.#buffer, this.#buffer.length, MSG_DONTWAIT));
      if (n >= 0) return new Uint8Array(this.#buffer.subarray(0, n));
      const e = errno();
      if (e === EINTR) continue;
      if (e === EAGAIN) return undefined;
      throw new SocketError("recv", e, this.address);
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    libc().close(this.#fd);
  }
}
