/** Unit tests mirror the source tree; integration tests drive the public API on a real port. */
module.exports = {
	preset: "ts-jest",
	testEnvironment: "node",
	roots: ["<rootDir>/test"],
	testMatch: ["**/*.spec.ts"],
	transform: { "^.+\\.ts$": "ts-jest" },
	testTimeout: 30000,
	// In CI a handle some library leaves open (a gRPC channel to etcd closing late) must not hang the
	// run after every test passed: Jest still prints that it had to force the exit.
	forceExit: Boolean(process.env.CI)
};
