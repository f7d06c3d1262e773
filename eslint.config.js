// @ts-check
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  // .tmp/ and .scratch/: what test runs write (bundles, reports), not our source.
  { ignores: ["dist/", "node_modules/", "coverage/", ".tmp/", ".scratch/"] },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    files: ["**/*.mjs", "**/*.js"],
    languageOptions: { globals: { console: "readonly", process: "readonly" } },
  },
  {
    // Tests read loosely typed JSON responses (through the loopback clients, shared with bench/).
    files: ["test/**/*.ts", "scripts/loopback/*-client.ts"],
    rules: { "@typescript-eslint/no-explicit-any": "off", "@typescript-eslint/no-non-null-assertion": "off" },
  },
);
