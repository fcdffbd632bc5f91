import { describe, expect, test } from "bun:test";
import { formatCommand, quoteWord, splitKeyValues, splitWords, UnitFile } from "../../../lib/systemd/unitfile.ts";

describe("unit files", () => {
  test("sections, comments, repeated keys, continuation lines, whitespace around =", () => {
    const u = UnitFile.parse(
      [
        "# comment",
        "; another",
        "[Unit]",
        "Description = A thing ",
        "",
        "[Container]",
        "Environment=A=1",
        "Environment=B=2",
        "Exec=sh -c \\",
        "  # a comment inside a continuation is skipped",
        "  'echo hi'",
        "[Unit]",
        "After=network.target",
      ].join("\n"),
    );
    expect(u.get("Unit", "Description")).toBe("A thing");
    expect(u.getAll("Container", "Environment")).toEqual(["A=1", "B=2"]);
    // The backslash becomes a space (systemd keeps the one before it too).
    expect(u.get("Container", "Exec")).toBe("sh -c  'echo hi'");
    expect(splitWords(u.get("Container", "Exec") ?? "")).toEqual(["sh", "-c", "echo hi"]);
    expect(u.get("Unit", "After")).toBe("network.target");
    expect(u.sections.map((s) => s.name)).toEqual(["Unit", "Container"]);
  });

  test("an empty assignment resets a list", () => {
    const u = UnitFile.parse("[S]\nA=1\nA=\nA=2\n");
    expect(u.getAll("S", "A")).toEqual(["2"]);
    expect(u.get("S", "A")).toBe("2");
  });

  test("errors name the file and line", () => {
    expect(() => UnitFile.parse("[S]\nnot an assignment\n", "x.container")).toThrow("x.container:2: expected Key=Value");
    expect(() => UnitFile.parse("A=1\n", "x.container")).toThrow("x.container:1: assignment outside of a section");
    expect(() => UnitFile.parse("[S\n", "x.container")).toThrow("invalid section header");
  });

  test("set replaces in place, rename keeps entries, toString round-trips", () => {
    const u = UnitFile.parse("[Container]\nImage=a\n[Service]\nType=simple\nRestart=always\n");
    u.set("Service", "Type", "notify");
    u.renameSection("Container", "X-Container");
    u.header = ["# generated"];
    expect(u.toString()).toBe("# generated\n\n[X-Container]\nImage=a\n\n[Service]\nType=notify\nRestart=always\n");
    expect(UnitFile.parse(u.toString()).toString()).toBe(u.toString().replace("# generated\n\n", ""));
  });
});

describe("words", () => {
  test("systemd splitting: quotes group, C escapes decode", () => {
    expect(splitWords(`a "b c" 'd e' f\\ g "h\\"i" \\x41 "\\n"`)).toEqual(["a", "b c", "d e", "f g", 'h"i', "A", "\n"]);
    expect(splitWords(`""`)).toEqual([""]);
    expect(splitWords("  ")).toEqual([]);
    expect(() => splitWords(`"open`)).toThrow("unbalanced quotes");
  });

  test("key=value lists", () => {
    expect(splitKeyValues(`A=1 "B=two words" C`)).toEqual([
      ["A", "1"],
      ["B", "two words"],
      ["C", ""],
    ]);
  });

  test("quoting gives the words back", () => {
    const words = ["plain", "two words", 'q"uote', "back\\slash", "", "tab\there", "new\nline", "--opt=x,y", "%t/x", "$HOME"];
    expect(splitWords(formatCommand(words))).toEqual(words);
    expect(quoteWord("%t/%N.cid")).toBe("%t/%N.cid");
  });

  test("literal quoting escapes specifiers and variables for systemd", () => {
    expect(quoteWord("100%", { literal: true })).toBe("100%%");
    expect(quoteWord("echo $FOO", { literal: true })).toBe('"echo $$FOO"');
  });
});
