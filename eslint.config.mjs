// Lint gate (`npm run lint`): typescript-eslint with type information, over every TypeScript
// file of the repository. Formatting is Prettier's job (`npm run format:check`), not ESLint's.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  {
    ignores: [
      "node_modules/**",
      ".next/**",
      "data/**",
      "lib/db/generated/**",
      "packages/*/dist/**",
      "bench/results/**",
      "bench/next-route/.next/**",
      "test-results/**",
      "playwright-report/**",
      "next-env.d.ts",
      "**/*.js",
      "**/*.cjs",
      "**/*.mjs",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    linterOptions: { reportUnusedDisableDirectives: "error" },
    rules: {
      // Promises: every one is awaited, returned, or explicitly dropped with `void` and a reason.
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/require-await": "error",
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/only-throw-error": "error",
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
      // An empty catch needs a comment saying why dropping the failure is safe (CONVENTIONS).
      "no-empty": ["error", { allowEmptyCatch: false }],
      // Off: the code stringifies `unknown` on purpose (canonical audit forms, CSV cells, messages),
      // and assertions the rule calls unnecessary are often what keeps an overload or a mock typed.
      "@typescript-eslint/no-base-to-string": "off",
      "@typescript-eslint/no-unnecessary-type-assertion": "off",
    },
  },
  {
    // Tests, end-to-end specs, benchmarks and their kit read JSON response bodies field by field
    // (ApiClient's body is untyped on purpose): the assertions are the check, so the no-unsafe-*
    // family, which flags every such read, is off there. no-explicit-any stays on.
    files: ["test/**", "e2e/**", "bench/**", "testkit/**"],
    rules: {
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-argument": "off",
      "@typescript-eslint/no-unsafe-return": "off",
      "@typescript-eslint/no-unsafe-call": "off",
    },
  },
);
