/**
 * A removed container's directory on its way out: the shim of a `run --rm`
 * container renames it to a name no command lists (record ids are 64 hex
 * digits), releases its names, lets the client go, and only then deletes the
 * files. A shim killed in between leaves the trash for `container prune`.
 * Kept apart from record.ts so the shim loads none of the record's schema.
 */
export function containerTrashName(id: string): string {
  return `.trash-${id}`;
}

export function isContainerTrash(name: string): boolean {
  return /^\.trash-[a-f0-9]{64}$/.test(name);
}
