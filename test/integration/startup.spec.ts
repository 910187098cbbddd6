import { spawn } from "child_process";
import path from "path";

/** Runs server.ts with the given environment until it exits; returns its exit code and stderr. */
function startServer(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
	const root = path.resolve(__dirname, "../..");
	const child = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", "server.ts"], {
		cwd: root,
		env: { ...process.env, ...env },
		stdio: ["ignore", "ignore", "pipe"]
	});
	let stderr = "";
	child.stderr.on("data", chunk => (stderr += chunk));
	return new Promise(resolve => child.on("exit", code => resolve({ code, stderr })));
}

describe("starting GoChat", () => {
	test.each([
		["PORT", "abc"],
		["DATABASE_URL", "postgres://localhost/gochat"],
		["JWT_SECRET", "too-short"]
	])("an invalid %s stops the start with a message that names it", async (name, value) => {
		const { code, stderr } = await startServer({ [name]: value });
		expect(code).toBe(1);
		expect(stderr).toContain(`GoChat cannot start: invalid configuration, ${name}:`);
		expect(stderr).not.toMatch(/\n\s+at /);
	});
});
