import { describe, expect, test } from "bun:test";
import { isSkiffError } from "../../../lib/errors.ts";
import {
  bytesSize, displayWidth, formatOutput, formatSingle, headerFromField, humanDuration, humanSize, parseDuration,
  parseSize, renderTable, tabwrite, timeAgo, truncateId, type Column,
} from "../../../lib/cli/render.ts";

type Row = { ID: string; Image: string; Names: string; CreatedAt: string; Status: string; Labels: Record<string, string> };

const rows: Row[] = [
  { ID: "4c01db0b339c", Image: "alpine", Names: "web", CreatedAt: "2024-05-01", Status: "Up 5 minutes", Labels: { a: "1" } },
  { ID: "d9b100f2f636", Image: "docker.io/library/nginx:1.27", Names: "proxy", CreatedAt: "2024-04-30", Status: "Exited (0) 2 hours ago", Labels: {} },
];
const columns: Column<Row>[] = [
  { header: "CONTAINER ID", get: (r) => r.ID },
  { header: "IMAGE", get: (r) => r.Image },
  { header: "STATUS", get: (r) => r.Status },
  { header: "NAMES", get: (r) => r.Names },
];
const opts = { defaultColumns: columns, headers: { ID: "CONTAINER ID" } };

function invalid(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(isSkiffError(e, "InvalidArgument")).toBe(true);
    return (e as Error).message;
  }
  throw new Error("expected an InvalidArgument error");
}

describe("tables", () => {
  test("columns are as wide as the widest cell plus 3, at least 10; the last is not padded", () => {
    expect(renderTable(columns, rows)).toBe(
      [
        "CONTAINER ID   IMAGE                          STATUS                   NAMES",
        "4c01db0b339c   alpine                         Up 5 minutes             web",
        "d9b100f2f636   docker.io/library/nginx:1.27   Exited (0) 2 hours ago   proxy",
        "",
      ].join("\n"),
    );
  });

  test("short columns get the minimum width of 10", () => {
    const cols: Column<string>[] = [{ header: "A", get: (s) => s }, { header: "B", get: () => "x" }];
    expect(renderTable(cols, ["1"])).toBe("A         B\n1         x\n");
    expect(renderTable(cols, ["1"], { noHeader: true })).toBe("1         x\n");
    expect(renderTable(cols, [])).toBe("A         B\n");
  });

  test("tabwriter column blocks follow Go's elastic tabstops", () => {
    const text = "aaaa\tbbb\td\naa\tb\tdd\na\t\naa\tcccc\teee\n";
    expect(tabwrite(text, { minWidth: 0, padding: 1 })).toBe("aaaa bbb d\naa   b   dd\na    \naa   cccc eee\n");
  });

  test("wide characters count twice", () => {
    expect(displayWidth("日本")).toBe(4);
    expect(displayWidth("é")).toBe(1);
    expect(tabwrite("日本\tx\nab\ty\n", { minWidth: 0, padding: 1 })).toBe("日本 x\nab   y\n");
  });
});

describe("formatOutput", () => {
  test("no format and `table` give the default table", () => {
    const table = renderTable(columns, rows);
    expect(formatOutput(rows, undefined, opts)).toBe(table);
    expect(formatOutput(rows, "", opts)).toBe(table);
    expect(formatOutput(rows, "table", opts)).toBe(table);
    expect(formatOutput(rows, "table", { ...opts, noHeader: true })).toBe(renderTable(columns, rows, { noHeader: true }));
  });

  test("`table` templates take headers from the map, or from the field name", () => {
    expect(formatOutput(rows, "table {{.ID}}\\t{{.Names}}\\t{{.CreatedAt}}", opts)).toBe(
      [
        "CONTAINER ID   NAMES     CREATED AT",
        "4c01db0b339c   web       2024-05-01",
        "d9b100f2f636   proxy     2024-04-30",
        "",
      ].join("\n"),
    );
  });

  test("header rows keep the titles through json, upper, truncate, index", () => {
    const out = formatOutput(rows.slice(0, 1), 'table {{json .Labels}}\t{{.Names | upper}}\t{{truncate .ID 4}}\t{{index .Labels "a"}}', opts);
    expect(out).toBe('LABELS      NAMES     CONTAINER ID   LABELS\n{"a":"1"}   WEB       4c01           1\n');
  });

  test("a header the header data cannot render falls back to the cells' last fields", () => {
    expect(formatOutput(rows.slice(0, 1), "table {{len .Names}}\t{{.Image}}", opts)).toBe("NAMES     IMAGE\n3         alpine\n");
  });

  test("an empty list still prints the table header", () => {
    expect(formatOutput([], "table {{.ID}}\t{{.Image}}", opts)).toBe("CONTAINER ID   IMAGE\n");
    expect(formatOutput([], "{{.ID}}", opts)).toBe("");
  });

  test("other templates print one line per row, with typed \\t and \\n expanded", () => {
    expect(formatOutput(rows, "{{.ID}}\\t{{.Image}}", opts)).toBe("4c01db0b339c\talpine\nd9b100f2f636\tdocker.io/library/nginx:1.27\n");
    expect(formatOutput(rows, "{{.Names}}\\n--", opts)).toBe("web\n--\nproxy\n--\n");
    expect(formatOutput(rows, '{{.Names}}{{"\\t"}}x', opts)).toBe("web\tx\nproxy\tx\n");
  });

  test("`json` prints one compact object per line", () => {
    expect(formatOutput(rows.slice(0, 1), "json", opts)).toBe(
      '{"ID":"4c01db0b339c","Image":"alpine","Names":"web","CreatedAt":"2024-05-01","Status":"Up 5 minutes","Labels":{"a":"1"}}\n',
    );
  });

  test("quiet prints IDs whatever the format", () => {
    expect(formatOutput(rows, "table {{.Names}}", { ...opts, quiet: true })).toBe("4c01db0b339c\nd9b100f2f636\n");
    expect(formatOutput(rows, undefined, { ...opts, quiet: (r: Row) => r.Names })).toBe("web\nproxy\n");
  });

  test("data maps rows to what templates see", () => {
    const out = formatOutput(rows, "{{.Short}}", { ...opts, data: (r: Row) => ({ Short: r.ID.slice(0, 4) }) });
    expect(out).toBe("4c01\nd9b1\n");
  });

  test("template errors are InvalidArgument", () => {
    expect(invalid(() => formatOutput(rows, "{{.ID", opts))).toBe("template: :1: unclosed action");
    expect(invalid(() => formatOutput(rows, "{{.ID.X}}", opts))).toContain("can't evaluate field X in type string");
  });

  test("field names become headers", () => {
    expect(headerFromField("CreatedAt")).toBe("CREATED AT");
    expect(headerFromField("ID")).toBe("ID");
    expect(headerFromField("IPAddress")).toBe("IP ADDRESS");
    expect(headerFromField("RunningFor")).toBe("RUNNING FOR");
    expect(headerFromField("names")).toBe("NAMES");
  });
});

describe("formatSingle", () => {
  const items = [{ Id: "abc", Config: { Env: ["A=1"], Labels: { x: "<y>" } } }];

  test("default is JSON indented by four spaces", () => {
    expect(formatSingle(items)).toBe(
      '[\n    {\n        "Id": "abc",\n        "Config": {\n            "Env": [\n                "A=1"\n            ],\n' +
        '            "Labels": {\n                "x": "<y>"\n            }\n        }\n    }\n]\n',
    );
    expect(formatSingle([])).toBe("[]\n");
  });

  test("`json` is compact", () => {
    expect(formatSingle(items, "json")).toBe('[{"Id":"abc","Config":{"Env":["A=1"],"Labels":{"x":"<y>"}}}]\n');
  });

  test("a template renders each element on its own line", () => {
    expect(formatSingle([...items, { Id: "def", Config: { Env: [] } }], "{{.Id}} {{json .Config.Env}}")).toBe(
      'abc ["A=1"]\ndef []\n',
    );
    expect(formatSingle({ Client: { Version: "0.1.0" } }, "{{.Client.Version}}")).toBe("0.1.0\n");
    expect(formatSingle([], "{{.Id}}")).toBe("\n");
  });
});

describe("sizes", () => {
  const human: [number, string][] = [
    [0, "0B"], [1, "1B"], [999, "999B"], [1000, "1kB"], [1023, "1.02kB"], [1024, "1.02kB"], [1125, "1.12kB"],
    [1234, "1.23kB"], [4_260_000, "4.26MB"], [5_577_000, "5.58MB"], [77_800_000, "77.8MB"], [119_000_000, "119MB"],
    [187_654_321, "188MB"], [999_999, "1e+03kB"], [1_200_000_000, "1.2GB"], [3.42e12, "3.42TB"], [1e27, "1e+03YB"],
  ];
  for (const [n, want] of human) test(`humanSize(${n}) = ${want}`, () => expect(humanSize(n)).toBe(want));

  test("humanSize with 4 digits is go-units HumanSize", () => {
    expect(humanSize(1024, 4)).toBe("1.024kB");
    expect(humanSize(1_048_576, 4)).toBe("1.049MB");
    expect(humanSize(5.372e12, 4)).toBe("5.372TB");
  });

  const binary: [number, string][] = [
    [0, "0B"], [512, "512B"], [1024, "1KiB"], [1536, "1.5KiB"], [1_572_864, "1.5MiB"], [2 * 2 ** 20, "2MiB"],
    [3.42 * 2 ** 30, "3.42GiB"], [119_000_000, "113.5MiB"], [1125, "1.099KiB"], [5.372 * 2 ** 40, "5.372TiB"],
  ];
  for (const [n, want] of binary) test(`bytesSize(${n}) = ${want}`, () => expect(bytesSize(n)).toBe(want));

  const parsed: [string, number][] = [
    ["32", 32], ["32b", 32], ["32B", 32], ["32k", 32_768], ["32K", 32_768], ["32kb", 32_768], ["32KiB", 32_768],
    ["512m", 536_870_912], ["512M", 536_870_912], ["1g", 1_073_741_824], ["1.5g", 1_610_612_736], ["1 GiB", 1_073_741_824],
    ["2t", 2 * 2 ** 40], ["1p", 2 ** 50], ["0.5k", 512], ["1.1k", 1126], ["0", 0],
  ];
  for (const [s, want] of parsed) test(`parseSize(${s}) = ${want}`, () => expect(parseSize(s)).toBe(want));

  for (const bad of ["", "m", "-1", "1x", "1kbb", "1kx", "1mB2", "1 kk", "abc"]) {
    test(`parseSize rejects ${JSON.stringify(bad)}`, () => expect(invalid(() => parseSize(bad))).toStartWith("invalid size"));
  }
});

describe("durations", () => {
  const s = 1000;
  const min = 60 * s;
  const h = 60 * min;
  const d = 24 * h;
  const human: [number, string][] = [
    [0, "Less than a second"], [450, "Less than a second"], [s, "1 second"], [47 * s, "47 seconds"],
    [59 * s + 999, "59 seconds"], [min, "About a minute"], [min + 59 * s, "About a minute"], [3 * min, "3 minutes"],
    [35 * min + 40 * s, "35 minutes"], [59 * min, "59 minutes"], [h, "About an hour"], [h + 29 * min, "About an hour"],
    [h + 31 * min, "2 hours"], [3 * h + 59 * min, "4 hours"], [36 * h, "36 hours"], [47 * h + 29 * min, "47 hours"],
    [2 * d, "2 days"], [13 * d + 5 * h, "13 days"], [14 * d, "2 weeks"], [34 * d, "4 weeks"], [44 * d, "6 weeks"],
    [60 * d, "2 months"], [97 * d, "3 months"], [23 * 30 * d, "23 months"], [24 * 30 * d, "24 months"],
    [730 * d, "2 years"], [3 * 365 * d + 60 * d, "3 years"], [-5 * s, "Less than a second"],
  ];
  for (const [ms, want] of human) test(`humanDuration(${ms}) = ${want}`, () => expect(humanDuration(ms)).toBe(want));

  test("timeAgo", () => {
    const now = new Date("2024-05-01T12:00:00Z");
    expect(timeAgo(new Date("2024-05-01T11:55:00Z"), now)).toBe("5 minutes ago");
    expect(timeAgo("2024-05-01T11:59:00Z", now)).toBe("About a minute ago");
    expect(timeAgo(now.getTime() - 3 * d, now.getTime())).toBe("3 days ago");
  });

  const parsed: [string, number][] = [
    ["1m30s", 90_000], ["1.5h", 5_400_000], ["250ms", 250], ["-2s", -2000], ["+3s", 3000], ["0", 0], ["0s", 0],
    [".5s", 500], ["1.s", 1000], ["1h2m3.5s", 3_723_500], ["1µs", 0.001], ["1μs", 0.001], ["1us", 0.001],
    ["300ns", 0.0003], ["2h45m", 9_900_000], ["1s500ms", 1500],
  ];
  for (const [text, want] of parsed) test(`parseDuration(${text}) = ${want}`, () => expect(parseDuration(text)).toBeCloseTo(want, 9));

  const bad: [string, string][] = [
    ["", 'invalid duration ""'], ["1", 'missing unit in duration "1"'], ["1x", 'unknown unit "x" in duration "1x"'],
    [".s", 'invalid duration ".s"'], ["s", 'invalid duration "s"'], ["1d", 'unknown unit "d" in duration "1d"'],
    ["1s 2s", 'unknown unit "s " in duration "1s 2s"'], ["-", 'invalid duration "-"'],
    ["9999999999h", 'invalid duration "9999999999h"'],
  ];
  for (const [text, want] of bad) test(`parseDuration rejects ${JSON.stringify(text)}`, () => expect(invalid(() => parseDuration(text))).toBe(want));
});

describe("truncateId", () => {
  test("12 hex digits without the algorithm", () => {
    const id = "sha256:4c01db0b339cbf2a8c3d5f1e7b9a0c2d4e6f8a1b3c5d7e9f0a2b4c6d8e0f1a2b";
    expect(truncateId(id)).toBe("4c01db0b339c");
    expect(truncateId("4c01db0b339cbf2a8c3d")).toBe("4c01db0b339c");
    expect(truncateId(id, true)).toBe(id);
    expect(truncateId("abc")).toBe("abc");
  });
});
