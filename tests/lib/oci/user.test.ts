import { describe, expect, test } from "bun:test";
import { parseGroup, parsePasswd, resolveUser } from "../../../lib/oci/user.ts";
import { expectError } from "./helpers.ts";

const passwd = [
  "root:x:0:0:root:/root:/bin/sh",
  "# a comment",
  "",
  "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin",
  "app:x:1000:1000:App:/home/app:/bin/sh",
  "nohome:x:1001:1001:::/bin/sh",
  "1234:x:4321:4321:numeric name:/n:/bin/sh",
].join("\n");
const group = [
  "root:x:0:",
  "tty:x:5:",
  "wheel:x:10:root,app",
  "app:x:1000:",
  "audio:x:29:app,daemon",
  "staff:x:50:",
  "nohome:x:1001:",
].join("\n");
const files = { passwd, group };

describe("resolveUser", () => {
  test("no user: uid 0 with root's entry and groups", () => {
    expect(resolveUser(undefined, files)).toEqual({ uid: 0, gid: 0, additionalGids: [0, 10], home: "/root" });
    expect(resolveUser("", files)).toEqual(resolveUser(undefined, files));
  });

  test("a name: its uid, gid, home and the groups that list it; primary gid first", () => {
    expect(resolveUser("app", files)).toEqual({ uid: 1000, gid: 1000, additionalGids: [1000, 10, 29], home: "/home/app" });
    expect(resolveUser("daemon", files)).toEqual({ uid: 1, gid: 1, additionalGids: [1, 29], home: "/usr/sbin" });
  });

  test("a uid: the matching entry when there is one, else gid 0 and HOME /", () => {
    expect(resolveUser("1000", files)).toEqual(resolveUser("app", files));
    expect(resolveUser("5000", files)).toEqual({ uid: 5000, gid: 0, additionalGids: [0], home: "/" });
    // A numeric user is always a uid, never a name (runc): "1234" is not the user named 1234.
    expect(resolveUser("1234", files)).toEqual({ uid: 1234, gid: 0, additionalGids: [0], home: "/" });
  });

  test("uid 0 without an entry gets HOME /root; an entry without a home gets /", () => {
    expect(resolveUser("0", {})).toEqual({ uid: 0, gid: 0, additionalGids: [0], home: "/root" });
    expect(resolveUser(undefined, {})).toEqual({ uid: 0, gid: 0, additionalGids: [0], home: "/root" });
    expect(resolveUser("nohome", files).home).toBe("/");
  });

  test("user:group forms: the group replaces the primary gid and no membership groups are added", () => {
    expect(resolveUser("app:staff", files)).toEqual({ uid: 1000, gid: 50, additionalGids: [50], home: "/home/app" });
    expect(resolveUser("1000:50", files)).toEqual({ uid: 1000, gid: 50, additionalGids: [50], home: "/home/app" });
    expect(resolveUser("5000:6000", files)).toEqual({ uid: 5000, gid: 6000, additionalGids: [6000], home: "/" });
    expect(resolveUser("5000:audio", files)).toEqual({ uid: 5000, gid: 29, additionalGids: [29], home: "/" });
    expect(resolveUser("2000:3000", {})).toEqual({ uid: 2000, gid: 3000, additionalGids: [3000], home: "/" });
  });

  test("--group-add: names and numbers, after the others, no duplicates", () => {
    expect(resolveUser("app", files, { groupAdd: ["staff", "777", "audio", "tty"] })).toEqual({
      uid: 1000,
      gid: 1000,
      additionalGids: [1000, 10, 29, 50, 777, 5],
      home: "/home/app",
    });
    expect(resolveUser("1:2", {}, { groupAdd: ["3"] }).additionalGids).toEqual([2, 3]);
  });

  test("unknown names are InvalidArgument with runc's wording", () => {
    expectError(() => resolveUser("nobody", files), "unable to find user nobody: no matching entries in passwd file");
    expectError(() => resolveUser("root", {}), "unable to find user root: no matching entries in passwd file");
    expectError(() => resolveUser("app:nogroup", files), "unable to find group nogroup: no matching entries in group file");
    expectError(() => resolveUser("1000:users", { passwd }), "unable to find group users");
    expectError(() => resolveUser("app", files, { groupAdd: ["video"] }), "unable to find group video: no matching entries in group file");
  });

  test("malformed specs and ids out of range are InvalidArgument", () => {
    expectError(() => resolveUser(":1", files), "expected user[:group]");
    expectError(() => resolveUser("1:", files), "expected user[:group]");
    expectError(() => resolveUser("2147483648", files), "uids and gids must be in range 0-2147483647");
    expectError(() => resolveUser("1:4294967296", files), "uids and gids must be in range");
    expect(resolveUser("2147483647", {}).uid).toBe(2147483647);
  });
});

describe("passwd and group files", () => {
  test("fields by position; bad ids read as 0; comments and blank lines skipped", () => {
    expect(parsePasswd("a:x:1:2:gecos:/h:/bin/sh\nb:x:zz:3\n")).toEqual([
      { name: "a", uid: 1, gid: 2, home: "/h" },
      { name: "b", uid: 0, gid: 3, home: "" },
    ]);
    expect(parseGroup("g:x:7:a,b\nh:x:8:\n#c:x:9:\n")).toEqual([
      { name: "g", gid: 7, members: ["a", "b"] },
      { name: "h", gid: 8, members: [] },
    ]);
    expect(parsePasswd(undefined)).toEqual([]);
  });
});
