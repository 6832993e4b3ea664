/** Where a CLI function writes; defaults to the process's stdout and stderr. */
export interface CliStreams {
  readonly stdout?: { write(text: string): unknown };
  readonly stderr?: { write(text: string): unknown };
}

/** A file read error in a few words: `no such file`, `gzip data is truncated or corrupt (…)`, … */
export function ioProblem(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  const message = err instanceof Error ? err.message : String(err);
  if (code === "ENOENT") return "no such file";
  if (code === "EISDIR") return "is a directory, not a file";
  if (code === "EACCES") return "permission denied";
  if (code?.startsWith("Z_")) return `gzip data is truncated or corrupt (${message})`;
  return message;
}

/** The line a CLI command writes for a file it cannot open: `FILE: cannot read: why`. */
export function cannotRead(file: string, err: unknown): string {
  return `${file}: cannot read: ${ioProblem(err)}\n`;
}
