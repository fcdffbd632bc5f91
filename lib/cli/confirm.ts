/** The y/N question prune commands ask before deleting anything without -f. */
import { writeStdout } from "./stdio.ts";

/** Asks on stdout, reads one answer from stdin: true only for y or yes. */
export async function confirm(question: string): Promise<boolean> {
  writeStdout(`${question} [y/N] `);
  const reader = Bun.stdin.stream().getReader();
  const { value } = await reader.read();
  reader.releaseLock();
  const answer = value ? new TextDecoder().decode(value).trim() : "";
  return /^y(es)?$/i.test(answer);
}
