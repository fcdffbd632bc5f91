/** Ids as the CLI shows them; apart from render.ts so commands that print one need not load the template engine. */

/** A short ID: the first 12 hex digits, without an algorithm prefix such as `sha256:`. */
export function truncateId(id: string, noTrunc = false): string {
  if (noTrunc) return id;
  const colon = id.indexOf(":");
  return (colon >= 0 ? id.slice(colon + 1) : id).slice(0, 12);
}
