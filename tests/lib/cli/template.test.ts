import { describe, expect, test } from "bun:test";
import { isSkiffError } from "../../../lib/errors.ts";
import { compileTemplate, formatFloat, formatValue, goQuote, sprintf, type TemplateFunc } from "../../../lib/cli/template.ts";

function run(src: string, data: unknown = {}, funcs?: Record<string, TemplateFunc>): string {
  return compileTemplate(src, { funcs }).execute(data);
}

function failure(src: string, data: unknown = {}, name = "ps"): string {
  try {
    compileTemplate(src, { name }).execute(data);
  } catch (e) {
    expect(isSkiffError(e, "InvalidArgument")).toBe(true);
    return (e as Error).message;
  }
  throw new Error(`expected ${src} to fail`);
}

const container = {
  ID: "4c01db0b339c",
  Name: "/web",
  Image: "docker.io/library/nginx:latest",
  Args: ["-g", "daemon off;"],
  State: { Status: "running", Running: true, Pid: 4242, ExitCode: 0, Health: null },
  Config: {
    Env: ["PATH=/usr/local/bin:/usr/bin", "NGINX_VERSION=1.27"],
    Labels: { "com.example.x": "yes", maintainer: "NGINX <docker-maint@nginx.com>" },
  },
  Mounts: [
    { Source: "/srv/www", Destination: "/usr/share/nginx/html" },
    { Source: "/srv/conf", Destination: "/etc/nginx/conf.d" },
  ],
  Ports: { "80/tcp": [{ HostIp: "0.0.0.0", HostPort: "8080" }] },
};

describe("docker-typical formats", () => {
  const cases: [string, string][] = [
    ["{{.ID}}\t{{.Image}}", "4c01db0b339c\tdocker.io/library/nginx:latest"],
    ["{{.State.Status}}", "running"],
    ["{{json .Config.Env}}", '["PATH=/usr/local/bin:/usr/bin","NGINX_VERSION=1.27"]'],
    ['{{index .Config.Labels "com.example.x"}}', "yes"],
    ['[{{index .Config.Labels "missing"}}]', "[]"],
    ["{{range .Mounts}}{{.Source}}:{{.Destination}} {{end}}", "/srv/www:/usr/share/nginx/html /srv/conf:/etc/nginx/conf.d "],
    ["{{if .State.Running}}up{{else}}down{{end}}", "up"],
    ['{{printf "%-8s|" .Name}}', "/web    |"],
    ["{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}", "com.example.x=yes;maintainer=NGINX <docker-maint@nginx.com>;"],
    ["a {{- /* c */ -}} b", "ab"],
    ["{{join .Args \" \"}}", "-g daemon off;"],
    ['{{(index (index .Ports "80/tcp") 0).HostPort}}', "8080"],
    ['{{range $p, $conf := .Ports}}{{$p}} -> {{(index $conf 0).HostPort}}{{end}}', "80/tcp -> 8080"],
    ["{{.Name | printf \"%s!\" | upper}}", "/WEB!"],
    ["{{with .State}}{{.Pid}}{{end}}", "4242"],
    ["{{if eq .State.ExitCode 0}}ok{{end}}", "ok"],
    ["{{lower .State.Status | title}}", "Running"],
  ];
  for (const [src, want] of cases) {
    test(JSON.stringify(src), () => expect(run(src, container)).toBe(want));
  }

  test("json of the whole object keeps field order and does not escape HTML, as Docker's json", () => {
    expect(run("{{json .}}", { b: "<a&b>", a: [1, 2.5, null], c: { x: true } })).toBe(
      '{"b":"<a&b>","a":[1,2.5,null],"c":{"x":true}}',
    );
    expect(run("{{json .Missing}}", {})).toBe("null");
    expect(run("{{json .}}", { s: "line\u2028sep" })).toBe('{"s":"line\\u2028sep"}');
  });
});

describe("values print like Go's %v", () => {
  const cases: [string, unknown, string][] = [
    ["{{.}}", "raw string", "raw string"],
    ["{{.}}", 42, "42"],
    ["{{.}}", 1.5, "1.5"],
    ["{{.}}", 0.000001, "1e-06"],
    ["{{.}}", 123456789.5, "1.234567895e+08"],
    ["{{.}}", true, "true"],
    ["{{.}}", null, "<no value>"],
    ["{{.}}", ["a", 1, null], "[a 1 <nil>]"],
    ["{{.}}", { b: 2, a: "x", c: [true] }, "map[a:x b:2 c:[true]]"],
    ["{{.}}", { m: { z: 1, y: {} } }, "map[m:map[y:map[] z:1]]"],
    ["{{.Missing}}", { a: 1 }, "<no value>"],
    ["{{.A.B.C}}", { A: {} }, "<no value>"],
    ["{{$}}", { a: 1 }, "map[a:1]"],
  ];
  for (const [src, data, want] of cases) {
    test(`${src} on ${JSON.stringify(data)}`, () => expect(run(src, data)).toBe(want));
  }
});

describe("literals", () => {
  const cases: [string, string][] = [
    ['{{"a\\tb\\u00e9\\x41"}}', "a\tbéA"],
    ["{{`raw\\n`}}", "raw\\n"],
    ["{{'a'}}", "97"],
    ["{{42}} {{-7}} {{0x1F}} {{0o17}} {{017}} {{0b101}} {{1_000}}", "42 -7 31 15 15 5 1000"],
    ["{{1.5}} {{1e3}} {{.5}}", "1.5 1000 0.5"],
    ["{{true}} {{false}}", "true false"],
    ["{{print nil}}", "<nil>"],
  ];
  for (const [src, want] of cases) test(JSON.stringify(src), () => expect(run(src)).toBe(want));
});

describe("control structures and variables", () => {
  const data = { L: ["a", "b", "c"], E: [], M: { b: 2, a: 1 }, X: "", Y: "y", N: 3 };
  const cases: [string, string][] = [
    ["{{range .L}}{{.}}{{end}}", "abc"],
    ["{{range $i, $e := .L}}{{$i}}{{$e}},{{end}}", "0a,1b,2c,"],
    ["{{range $e := .L}}{{$e}}{{end}}", "abc"],
    ["{{range .M}}{{.}}{{end}}", "12"],
    ["{{range $k, $v := .M}}{{$k}}{{$v}}{{end}}", "a1b2"],
    ["{{range .E}}x{{else}}empty{{end}}", "empty"],
    ["{{range .Nope}}x{{else}}none{{end}}", "none"],
    ["{{range .N}}{{.}}{{end}}", "012"],
    ["{{range .L}}{{if eq . \"b\"}}{{continue}}{{end}}{{.}}{{end}}", "ac"],
    ["{{range .L}}{{if eq . \"b\"}}{{break}}{{end}}{{.}}{{end}}", "a"],
    ["{{if .X}}x{{else if .Y}}y{{else}}z{{end}}", "y"],
    ["{{if .X}}x{{else if .Z}}y{{else}}z{{end}}", "z"],
    ["{{with .X}}{{.}}{{else}}none{{end}}", "none"],
    ["{{with .X}}x{{else with .Y}}{{.}}{{end}}", "y"],
    ["{{$x := .Y}}{{$x}}{{$x = \"z\"}}{{$x}}", "yz"],
    ["{{$n := 0}}{{range .L}}{{$n = .}}{{end}}{{$n}}", "c"],
    ["{{if $v := .Y}}{{$v}}{{end}}", "y"],
    ["{{range .L}}{{$.Y}}{{end}}", "yyy"],
    ["{{23 -}} < {{- 45}}", "23<45"],
    ["a  {{- .Y}}  \n {{- .Y -}} \n b", "ayyb"],
    ["{{/* only a comment */}}x", "x"],
    ["{{\n  .Y\n}}", "y"],
  ];
  for (const [src, want] of cases) {
    test(JSON.stringify(src), () => expect(run(src, data)).toBe(want));
  }
});

describe("functions", () => {
  const data = { S: "Hello", L: [1, 2, 3], M: { a: "x" }, Z: 0, T: true, F: false, Nil: null };
  const cases: [string, string][] = [
    ["{{and .T .S}} {{and .T .Z .S}} {{or .Z .F}} {{or .Z .S}}", "Hello 0 false Hello"],
    ["{{not .T}} {{not .Z}}", "false true"],
    ["{{len .S}} {{len .L}} {{len .M}} {{len \"héllo\"}}", "5 3 1 6"],
    ["{{index .L 1}} {{index .M \"a\"}} {{index .S 0}}", "2 x 72"],
    ["{{slice .S 1 3}} {{slice .L 1}} {{slice .L 0 1}}", "el [2 3] [1]"],
    ["{{print 1 2 \"a\" \"b\" 3}}|{{println \"x\" 1}}", "1 2ab3|x 1\n"],
    ["{{eq 1 1}} {{eq .S \"a\" \"Hello\"}} {{ne 1 2}} {{eq .Nil nil}} {{eq .Nope 1}}", "true true true true false"],
    ["{{lt 1 2}} {{le 2 2}} {{gt \"b\" \"a\"}} {{ge 1 2}}", "true true true false"],
    ["{{split \"a:b:c\" \":\"}} {{join (split \"a:b\" \":\") \",\"}}", "[a b c] a,b"],
    ["{{lower .S}} {{upper .S}} {{title \"hello wide_world-x\"}}", "hello HELLO Hello Wide_world-X"],
    ["[{{pad .S 1 2}}] [{{pad \"\" 1 2}}]", "[ Hello  ] []"],
    ["{{truncate .S 3}} {{truncate .S 10}}", "Hel Hello"],
    ["{{.S | len}} {{.L | len | printf \"%03d\"}}", "5 003"],
    ["{{if and .T (or .Z .S)}}yes{{end}}", "yes"],
    ["{{and .Z (index .L 99)}}", "0"],
  ];
  for (const [src, want] of cases) test(JSON.stringify(src), () => expect(run(src, data)).toBe(want));

  test("custom functions and methods of class instances", () => {
    class Row {
      Labels = "a=1,b=2";
      Label(name: string): string {
        return this.Labels.split(",").find((kv) => kv.startsWith(`${name}=`))?.slice(name.length + 1) ?? "";
      }
    }
    expect(run('{{.Label "b"}}', new Row())).toBe("2");
    expect(run("{{shout .S}}", data, { shout: (s) => `${String(s)}!` })).toBe("Hello!");
    expect(run("{{.S | shout}}", data, { shout: (s) => `${String(s)}!` })).toBe("Hello!");
  });
});

describe("printf", () => {
  const cases: [string, unknown[], string][] = [
    ["%-8s|%8s|", ["ab", "cd"], "ab      |      cd|"],
    ["%5d|%-5d|%05d|%+d", [42, 42, 42, 5], "   42|42   |00042|+5"],
    ["%x %X %o %b %c %U", [255, 255, 8, 5, 65, 0x1f600], "ff FF 10 101 A U+1F600"],
    ["%#x %x", [255, "hi"], "0xff 6869"],
    ["%q %q", ['a"b', "é\n"], '"a\\"b" "é\\n"'],
    ["%.2f %e %g %6.2f|", [3.14159, 1234.5678, 0.00001234, 3.14159], "3.14 1.234568e+03 1.234e-05   3.14|"],
    ["%.0f %.0f %.0f", [2.5, 3.5, 0.5], "2 4 0"],
    ["%v %v %v %v", [[1, "a"], { b: 1, a: 2 }, null, true], "[1 a] map[a:2 b:1] <nil> true"],
    ["%.3s|%t|%%", ["abcdef", false], "abc|false|%"],
    ["%d", ["x"], "%!d(string=x)"],
    ["%d", [1.5], "%!d(float64=1.5)"],
    ["%s %s", ["a"], "a %!s(MISSING)"],
    ["%s", ["a", "b", 3], "a%!(EXTRA string=b, int=3)"],
    ["%s", [5], "%!s(int=5)"],
    ["%*d|", [4, 7], "   7|"],
  ];
  for (const [format, args, want] of cases) test(`${format} ${JSON.stringify(args)}`, () => expect(sprintf(format, args)).toBe(want));
});

describe("Go number formatting", () => {
  const cases: [number, "e" | "f" | "g", number, string][] = [
    [1.125, "g", 3, "1.12"],
    [1.135, "g", 3, "1.14"],
    [999.999, "g", 3, "1e+03"],
    [100, "g", 3, "100"],
    [0.5, "g", 3, "0.5"],
    [0, "g", 3, "0"],
    [1e6, "g", -1, "1e+06"],
    [123456, "g", -1, "123456"],
    [1234.5678, "e", -1, "1.2345678e+03"],
    [0.1, "f", -1, "0.1"],
    [-2.5, "f", 1, "-2.5"],
    [Number.POSITIVE_INFINITY, "g", -1, "+Inf"],
  ];
  for (const [x, verb, prec, want] of cases) test(`%${verb} ${prec} ${x}`, () => expect(formatFloat(x, verb, prec)).toBe(want));

  test("formatValue and goQuote", () => {
    expect(formatValue([1.5, 2, "x", { k: null }])).toBe("[1.5 2 x map[k:<nil>]]");
    expect(goQuote("tab\there\x00")).toBe('"tab\\there\\x00"');
  });
});

describe("errors", () => {
  const data = { X: "str", L: [1], N: null, A: 1, M: { k: "v" } };
  const cases: [string, string][] = [
    ["{{.X", "template: ps:1: unclosed action"],
    ["a\n{{.X\n", "template: ps:3: unclosed action"],
    ["{{foo .}}", 'template: ps:1: function "foo" not defined'],
    ["{{.X | nope}}", 'template: ps:1: function "nope" not defined'],
    ["{{end}}", "template: ps:1: unexpected {{end}}"],
    ["{{else}}", "template: ps:1: unexpected {{else}}"],
    ["{{if .X}}a", "template: ps:1: unexpected EOF"],
    ["{{$x}}", 'template: ps:1: undefined variable "$x"'],
    ["{{$x = 1}}", 'template: ps:1: undefined variable "$x"'],
    ["{{/* a */ .X}}", "template: ps:1: comment ends before closing delimiter"],
    ["{{/* a", "template: ps:1: unclosed comment"],
    ["{{.X | 1}}", "template: ps:1: non executable command in pipeline stage 2"],
    ["{{break}}", "template: ps:1: {{break}} outside {{range}}"],
    ["{{ (.X }}", "template: ps:1: unclosed left paren"],
    ["{{.X)}}", "template: ps:1: unexpected right paren"],
    ['{{"abc}}', "template: ps:1: unterminated quoted string"],
    ["{{}}", "template: ps:1: missing value for command"],
    ["{{.X #}}", "template: ps:1: unrecognized character in action: U+0023 '#'"],
    ["{{define \"x\"}}{{end}}", "template: ps:1: {{define}} is not supported"],
    ["{{.X.Y}}", 'template: ps:1:2: executing "ps" at <.X.Y>: can\'t evaluate field Y in type string'],
    ["x\n  {{.L.Y}}", 'template: ps:2:4: executing "ps" at <.L.Y>: can\'t evaluate field Y in type []interface {}'],
    ["{{.N.X}}", 'template: ps:1:2: executing "ps" at <.N.X>: nil pointer evaluating interface {}.X'],
    ["{{index .L 5}}", 'template: ps:1:2: executing "ps" at <index .L 5>: error calling index: index out of range: 5'],
    ['{{index .M 1}}', 'template: ps:1:2: executing "ps" at <index .M 1>: error calling index: value has type int; should be string'],
    ["{{len 3}}", 'template: ps:1:2: executing "ps" at <len 3>: error calling len: len of type int'],
    ["{{printf}}", 'template: ps:1:2: executing "ps" at <printf>: wrong number of args for printf: want at least 1 got 0'],
    ["{{upper .A}}", 'template: ps:1:2: executing "ps" at <upper .A>: wrong type for value; expected string; got int'],
    ['{{.A "x"}}', 'template: ps:1:2: executing "ps" at <.A>: A is not a method but has arguments'],
    ["{{range .X}}{{end}}", 'template: ps:1:8: executing "ps" at <.X>: range can\'t iterate over str'],
    ["{{1 2}}", 'template: ps:1:2: executing "ps" at <1>: can\'t give argument to non-function 1'],
    ['{{eq .X 1}}', 'template: ps:1:2: executing "ps" at <eq .X 1>: error calling eq: incompatible types for comparison'],
    ['{{printf "%s" .X | index .L 0 "a" "b"}}', 'template: ps:1:19: executing "ps" at <index .L 0 "a" "b">: error calling index: can\'t index item of type int'],
    ['{{index .L 0 "a" "bcdefgh"}}', 'template: ps:1:2: executing "ps" at <index .L 0 "a" "bcde...>: error calling index: can\'t index item of type int'],
  ];
  for (const [src, want] of cases) test(JSON.stringify(src), () => expect(failure(src, data)).toBe(want));

  test("the default name is empty, as Docker's", () => {
    expect(() => compileTemplate("{{.X")).toThrow("template: :1: unclosed action");
  });
});
