/** Unit tests mirror the source tree; integration tests drive the public API on a real port. */
module.exports = {
	preset: "ts-jest",
	testEnvironment: "node",
	roots: ["<rootDir>/test"],
	testMatch: ["**/*.spec.ts"],
	transform: { "^.+\\.ts$": "ts-jest" },
	testTimeout: 30000
};
