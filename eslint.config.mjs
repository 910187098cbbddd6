import js from "@eslint/js";
import prettier from "eslint-config-prettier";
import tseslint from "typescript-eslint";

/** typescript-eslint's recommended rules; layout is Prettier's business (eslint-config-prettier last). */
export default tseslint.config(
	{ ignores: ["dist/", "client/dist/", "node_modules/", "data/", "coverage/", "test-results/"] },
	js.configs.recommended,
	...tseslint.configs.recommended,
	{
		files: ["**/*.ts"],
		rules: {
			// An `_`-prefixed parameter or variable is unused on purpose (a handler's fixed signature).
			"@typescript-eslint/no-unused-vars": [
				"error",
				{ argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrorsIgnorePattern: "^_" }
			],
			"@typescript-eslint/no-explicit-any": "warn"
		}
	},
	{
		files: ["**/*.js", "**/*.cjs"],
		languageOptions: {
			sourceType: "commonjs",
			globals: { module: "writable", require: "readonly", __dirname: "readonly", process: "readonly" }
		}
	},
	prettier
);
