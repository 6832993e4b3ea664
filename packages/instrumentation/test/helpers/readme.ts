import { readFileSync } from "node:fs";
import { expect } from "vitest";

/** The package's README, as the parity tests read it. */
export const README = readFileSync(new URL("../../README.md", import.meta.url), "utf8");

/** The README from `<!-- marker -->` on (asserted to be there). */
export function readmeAfter(marker: string): string {
  const start = README.indexOf(`<!-- ${marker} -->`);
  expect(start, marker).toBeGreaterThanOrEqual(0);
  return README.slice(start);
}

/**
 * The body rows of the markdown table right after `<!-- marker -->` (blank lines between them
 * only), as trimmed cells (backticks kept); the header row and the separator row are left out.
 */
export function readmeTable(marker: string): string[][] {
  const rows: string[][] = [];
  for (const line of readmeAfter(marker).split("\n").slice(1)) {
    if (line.startsWith("|")) {
      rows.push(
        line
          .split("|")
          .slice(1, -1)
          .map((cell) => cell.trim()),
      );
    } else if (rows.length > 0 || line.trim() !== "") break;
  }
  return rows.slice(2);
}

/** A cell without its code backticks. */
export const unquote = (cell: string): string => cell.replaceAll("`", "");
