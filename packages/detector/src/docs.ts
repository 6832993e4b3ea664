import { configReferenceMarkdown } from "./config/reference.ts";
import { metricsReferenceMarkdown } from "./metrics/reference.ts";
import { rulesReferenceMarkdown } from "./rules/reference.ts";

/** Every generated doc, by path from the repository root. */
export const GENERATED_DOCS: Readonly<Record<string, () => string>> = {
  "docs/configuration.md": configReferenceMarkdown,
  "docs/metrics.md": metricsReferenceMarkdown,
  "docs/rules.md": rulesReferenceMarkdown,
};
