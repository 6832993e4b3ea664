import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: { conditions: ["@secmon/source"] },
  ssr: { resolve: { conditions: ["@secmon/source"] } },
  test: {
    include: ["packages/*/test/**/*.test.ts", "test/**/*.test.ts"],
    pool: "forks",
    testTimeout: 30_000,
    hookTimeout: 60_000,
    allowOnly: false,
  },
});
