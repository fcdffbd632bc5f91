/**
 * `--user` resolution against the image's /etc/passwd and /etc/group, with
 * runc's rules (libcontainer/user GetExecUser) and Docker's additions
 * (primary gid first among the supplementary groups, `--group-add`).
 */
import { SkiffError } from "../errors.ts";

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

export interface ResolvedUser {
  uid: number;
  gid: number;
  /** The primary gid first, then groups listing the user, then `--group-add`; no duplicates. */
  additionalGids: number[];
  home: string;
}

/** Largest id runc accepts (int32). */
const MAX_ID = 2147483647;

function lines(text: string | undefined): string[][] {
  if (!text) return [];
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"))
    .map((l) => l.split(":"));
}

/** An unparsable id field reads as 0, as in runc. */
function idField(s: string | undefined): number {
  return s !== undefined && /^[0-9]+$/.test(s) ? Number(s) : 0;
}

/** Parses /etc/passwd text (name:password:uid:gid:gecos:home:shell). */
export function parsePasswd(text: string | undefined): PasswdEntry[] {
  return lines(text).map((f) => ({ name: f[0] ?? "", uid: idField(f[2]), gid: idField(f[3]), home: f[5] ?? "" }));
}

/** Parses /etc/group text (name:password:gid:member,member). */
export function parseGroup(text: string | undefined): GroupEntry[] {
  return lines(text).map((f) => ({
    name: f[0] ?? "",
    gid: idField(f[2]),
    members: (f[3] ?? "").split(",").filter((m) => m !== ""),
  }));
}

function numericId(s: string): number | undefined {
  return /^[0-9]+$/.test(s) ? Number(s) : undefined;
}

function checkRange(id: number, spec: string): number {
  if (id > MAX_ID) throw new SkiffError("InvalidArgument", `invalid user ${spec}: uids and gids must be in range 0-${MAX_ID}`);
  return id;
}

/** A group given by name or number: the group file first, then a bare number. */
function lookupGroup(arg: string, groups: GroupEntry[], spec: string): number {
  const n = numericId(arg);
  // A numeric argument is always a gid, never a group name (as runc).
  const entry = groups.find((g) => (n !== undefined ? g.gid === n : g.name === arg));
  if (entry) return entry.gid;
  if (n !== undefined) return checkRange(n, spec);
  throw new SkiffError("InvalidArgument", `unable to find group ${arg}: no matching entries in group file`);
}

/**
 * Resolves `--user` ("", "name", "uid", "name:group", "uid:gid",
 * "uid:groupname") and `--group-add` against the image's passwd and group
 * files. Names must exist in the files; numbers need no entry. Without an
 * explicit group, the gid is the passwd entry's (0 for an unknown numeric
 * uid) and groups listing the user are added. HOME is the entry's home
 * directory; without an entry, "/root" for uid 0 and "/" otherwise.
 *
 *   resolveUser("app", { passwd, group }, { groupAdd: ["audio", "1234"] })
 */
export function resolveUser(
  user: string | undefined,
  files: { passwd?: string; group?: string },
  opts: { groupAdd?: readonly string[] } = {},
): ResolvedUser {
  const spec = (user ?? "").trim();
  const colon = spec.indexOf(":");
  const userArg = colon >= 0 ? spec.slice(0, colon) : spec;
  const groupArg = colon >= 0 ? spec.slice(colon + 1) : "";
  if (colon >= 0 && (userArg === "" || groupArg === "")) {
    throw new SkiffError("InvalidArgument", `invalid user ${JSON.stringify(spec)}: expected user[:group]`);
  }
  const passwd = parsePasswd(files.passwd);
  const groups = parseGroup(files.group);

  const uidArg = numericId(userArg);
  // An empty user means the current one: uid 0. A numeric user is always a uid.
  const entry = passwd.find((p) => (userArg === "" ? p.uid === 0 : uidArg !== undefined ? p.uid === uidArg : p.name === userArg));
  if (!entry && userArg !== "" && uidArg === undefined) {
    throw new SkiffError("InvalidArgument", `unable to find user ${userArg}: no matching entries in passwd file`);
  }
  const uid = checkRange(entry?.uid ?? uidArg ?? 0, spec);
  let gid = checkRange(entry?.gid ?? 0, spec);
  const supplementary: number[] = [];
  if (groupArg !== "") {
    gid = lookupGroup(groupArg, groups, spec);
  } else if (entry) {
    // Supplementary groups only in the implicit form, as runc.
    for (const g of groups) if (g.members.includes(entry.name)) supplementary.push(g.gid);
  }
  for (const g of opts.groupAdd ?? []) supplementary.push(lookupGroup(g.trim(), groups, g));
  const home = entry?.home || (entry || uid !== 0 ? "/" : "/root");
  return { uid, gid, additionalGids: [...new Set([gid, ...supplementary])], home };
}
