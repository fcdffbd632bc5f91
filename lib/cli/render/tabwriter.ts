/**
 * Elastic tabstops as Go's text/tabwriter lays them out with Docker's settings
 * (minwidth 10, padding 3, space padding, left aligned): tab-terminated cells
 * in consecutive lines form a column; the text after the last tab on a line is
 * not part of any column and is never padded.
 */

export type TabwriterOptions = { minWidth?: number; padding?: number };

function isWide(cp: number): boolean {
  return (
    (cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0xa4cf && cp !== 0x303f) ||
    (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) || (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x1f300 && cp <= 0x1f64f) ||
    (cp >= 0x1f900 && cp <= 0x1f9ff) || (cp >= 0x20000 && cp <= 0x3fffd)
  );
}

/** Terminal columns taken by `s`: wide East Asian characters count 2, combining marks 0. */
export function displayWidth(s: string): number {
  let w = 0;
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0;
    if (/\p{M}/u.test(ch) || cp === 0x200b) continue;
    w += isWide(cp) ? 2 : 1;
  }
  return w;
}

/** Aligns tab-separated text; lines end at "\n", cells at "\t". */
export function tabwrite(text: string, opts: TabwriterOptions = {}): string {
  const minWidth = opts.minWidth ?? 10;
  const padding = opts.padding ?? 3;
  const lines = text.split("\n").map((l) => l.split("\t"));
  const cellWidths = lines.map((cells) => cells.map(displayWidth));
  const widths: number[] = [];
  const out: string[] = [];

  function writeLines(line0: number, line1: number): void {
    for (let i = line0; i < line1; i++) {
      const cells = lines[i] ?? [];
      let s = "";
      cells.forEach((c, j) => {
        s += c;
        const w = widths[j];
        if (w !== undefined) s += " ".repeat(Math.max(w - (cellWidths[i]?.[j] ?? 0), 0));
      });
      out.push(s);
    }
  }

  function format(line0: number, line1: number): void {
    const column = widths.length;
    for (let i = line0; i < line1; i++) {
      if (column >= (lines[i]?.length ?? 0) - 1) continue;
      // A column block starts here: lines with a tab-terminated cell in this column.
      writeLines(line0, i);
      line0 = i;
      let width = minWidth;
      let j = i;
      for (; j < line1; j++) {
        const cells = cellWidths[j] ?? [];
        if (column >= cells.length - 1) break;
        width = Math.max(width, (cells[column] ?? 0) + padding);
      }
      widths.push(width);
      format(line0, j);
      widths.pop();
      line0 = j;
      i = j;
    }
    writeLines(line0, line1);
  }

  format(0, lines.length);
  return out.join("\n");
}
