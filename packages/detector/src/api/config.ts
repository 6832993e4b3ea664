import { z } from "zod";
import { secretRefSchema } from "../config/secret.ts";
import { endpointSchema } from "../config/sections.ts";
import { isLoopbackHost, splitEndpoint } from "../net.ts";

/** Config section `api`: the HTTP API for alerts, status, report and dead letters. */
export const apiSectionSchema = z
  .strictObject({
    enabled: z.boolean().default(true).describe("Serve the HTTP API"),
    endpoint: endpointSchema
      .default("127.0.0.1:8080")
      .describe("host:port to listen on; anything but loopback requires api.token"),
    token: secretRefSchema
      .optional()
      .describe(
        "Bearer token required on /api/* (`{ env: NAME }` or `{ file: PATH }`); required when the endpoint is not loopback",
      ),
    public_url: z
      .url({ protocol: /^https?$/ })
      .optional()
      .describe("URL under which people reach the API (links in sink messages); default http://<endpoint>"),
  })
  .superRefine((c, ctx) => {
    if (!c.enabled || c.token !== undefined || !endpointSchema.safeParse(c.endpoint).success) return;
    if (!isLoopbackHost(splitEndpoint(c.endpoint).host)) {
      ctx.addIssue({
        code: "custom",
        path: ["token"],
        message: `required when api.endpoint (${c.endpoint}) is not a loopback address`,
      });
    }
  })
  .prefault({})
  .describe("HTTP API (alerts, status, report, dead letters, health)");

export type ApiConfig = z.infer<typeof apiSectionSchema>;

/** Base URL for links to the API: public_url, else http://<endpoint>; undefined when disabled. */
export function apiBaseUrl(config: ApiConfig): string | undefined {
  if (!config.enabled) return undefined;
  return (config.public_url ?? `http://${config.endpoint}`).replace(/\/+$/, "");
}
