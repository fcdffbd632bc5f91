/** The current user's name, from /etc/passwd (os.userInfo can fail in minimal environments). */
import { readFileSync } from "node:fs";

export function userNameFor(uid: number): string | undefined {
  try {
    for (const line of readFileSync("/etc/passwd", "utf8").split("\n")) {
      const f = line.split(":");
      if (f.length >= 3 && Number(f[2]) === uid && f[0]) return f[0];
    }
  } catch {
    // no passwd file
  }
  return undefined;
}

export function currentUserName(): string {
  const uid = process.getuid?.() ?? 0;
  return userNameFor(uid) ?? process.env.USER ?? process.env.LOGNAME ?? String(uid);
}
