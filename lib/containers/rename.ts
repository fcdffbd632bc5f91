/**
 * `rename OLD NEW`, running or not. Under the container lock: reserve the new
 * name (its symlink; Conflict if taken), write the record with it, then drop
 * the old symlink. Lookups by name check the record too, so at every moment
 * exactly one of the two names resolves to the container, and a crash in
 * between leaves at worst a stale symlink, freed when the container is
 * removed.
 */
import type { Context } from "../context.ts";
import { SkiffError } from "../errors.ts";
import { acquireLock } from "../lock.ts";
import { validateName, type ContainerRecord } from "./record.ts";
import { containerLock } from "./start.ts";
import { readState } from "./state.ts";

/** Renames a container; returns the updated record. */
export async function renameContainer(ctx: Context, record: ContainerRecord, opts: { name: string }): Promise<ContainerRecord> {
  const name = opts.name.startsWith("/") ? opts.name.slice(1) : opts.name;
  if (!name) throw new SkiffError("InvalidArgument", "container name cannot be empty");
  try {
    validateName(name);
  } catch {
    throw new SkiffError("InvalidArgument", `invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  }
  const store = ctx.containers;
  const lock = await acquireLock(containerLock(ctx, record.id));
  try {
    const fresh = store.read(record.id);
    if (!fresh || fresh.incomplete) throw new SkiffError("NotFound", `no such container: ${record.name}`);
    if (fresh.name === name) {
      throw new SkiffError("InvalidArgument", `renaming a container with the same name as its current name`);
    }
    if (readState(store.dir(record.id)).status === "removing") {
      throw new SkiffError("Conflict", `cannot rename container ${fresh.name}: it is being removed`);
    }
    store.reserveName(name, record.id);
    const updated: ContainerRecord = { ...fresh, name };
    try {
      store.write(updated);
    } catch (e) {
      store.releaseName(name, record.id);
      throw e;
    }
    store.releaseName(fresh.name, record.id);
    return updated;
  } finally {
    lock.release();
  }
}
