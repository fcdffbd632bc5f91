/**
 * chroot(2) through bun:ffi, for helpers that must see a container's root
 * filesystem as "/" (so every path, symlinks included, resolves inside it).
 * Kept apart from libc.ts: only the cp helper loads it.
 */
import { dlopen, FFIType } from "bun:ffi";
import { errno, ErrnoError } from "./libc.ts";

let lib: ReturnType<typeof open> | undefined;

function open() {
  return dlopen("libc.so.6", { chroot: { args: [FFIType.ptr], returns: FFIType.i32 } });
}

/**
 * Makes `dir` this process's root and its working directory. libc is loaded
 * before, so nothing is ever loaded from inside the new root.
 */
export function chroot(dir: string): void {
  lib ??= open();
  // Loads libc.ts's own handle now: errno() after the chroot must not dlopen.
  errno();
  if (lib.symbols.chroot(Buffer.from(`${dir}\0`)) !== 0) throw new ErrnoError("chroot", errno(), dir);
  process.chdir("/");
}
