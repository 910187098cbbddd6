import { ChildProcess, spawn, spawnSync } from "child_process";
import crypto from "crypto";
import fs from "fs";
import net from "net";
import path from "path";

/** GoChat run as a child process (its entry points as operators start them), read line by line. */
export const ROOT = path.resolve(__dirname, "../..");

export interface GoChatProcess {
	child: ChildProcess;
	/** Everything printed so far, stdout and stderr together. */
	output(): string;
	/**
	 * Resolves with the first matching line printed after `from` (an output().length taken
	 * earlier; 0: from the start); fails if the process exits first.
	 */
	waitFor(pattern: RegExp, options?: { from?: number; timeoutMs?: number }): Promise<string>;
	/** Writes a line to its standard input (the REPL). */
	type(line: string): void;
	/** SIGTERM, then waits for the exit; returns the exit code, or null when it took SIGKILL after `graceMs`. */
	stop(graceMs?: number): Promise<number | null>;
}

export async function freePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const server = net.createServer().listen(0, "127.0.0.1", () => {
			const { port } = server.address() as net.AddressInfo;
			server.close(() => resolve(port));
		});
		server.on("error", reject);
	});
}

/**
 * An environment with no server configured (no transporter, Redis or queue) whatever the test run
 * has set, a fixed JWT secret, and `env` on top.
 */
export function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
	const clean = { ...process.env };
	for (const name of [
		"TRANSPORTER",
		"DISCOVERER",
		"REDIS_URL",
		"QUEUE_URL",
		"SERVICES",
		"NAMESPACE",
		"NODE_ID",
		"PORT",
		"WORKER_ID",
		"METRICS_PORT",
		"HEALTH_PORT",
		"TRACING"
	])
		delete clean[name];
	return {
		...clean,
		JWT_SECRET: crypto.randomBytes(32).toString("hex"),
		NAMESPACE: `test-${crypto.randomBytes(4).toString("hex")}`,
		LOG_LEVEL: "info",
		BCRYPT_ROUNDS: "4",
		...env
	};
}

/** Starts `node <args>` in the project directory. */
export function startProcess(args: string[], env: NodeJS.ProcessEnv): GoChatProcess {
	const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ["pipe", "pipe", "pipe"] });
	let output = "";
	const waiters = new Set<() => void>();
	const collect = (chunk: Buffer) => {
		output += chunk.toString();
		for (const check of [...waiters]) check();
	};
	child.stdout?.on("data", collect);
	child.stderr?.on("data", collect);
	const exited = new Promise<number | null>(resolve => child.once("exit", code => resolve(code)));
	child.once("exit", () => {
		for (const check of [...waiters]) check();
	});

	return {
		child,
		output: () => output,
		waitFor(pattern, { from = 0, timeoutMs = 60_000 } = {}) {
			return new Promise((resolve, reject) => {
				const timer = setTimeout(() => {
					waiters.delete(check);
					reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms; output:\n${output}`));
				}, timeoutMs);
				const check = () => {
					const line = output
						.slice(from)
						.split("\n")
						.find(l => pattern.test(l));
					if (line !== undefined || child.exitCode !== null || child.signalCode !== null) {
						clearTimeout(timer);
						waiters.delete(check);
						if (line !== undefined) resolve(line);
						else
							reject(
								new Error(
									`exited (${child.exitCode ?? child.signalCode}) before printing ${pattern}; output:\n${output}`
								)
							);
					}
				};
				waiters.add(check);
				check();
			});
		},
		type(line) {
			child.stdin?.write(`${line}\n`);
		},
		async stop(graceMs = 15_000) {
			if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
			const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
			const code = await exited;
			clearTimeout(timer);
			return code;
		}
	};
}

/** The newest modification time of the sources the compiled build is made of. */
function newestSource(dir: string): number {
	let newest = 0;
	for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
		const full = path.join(dir, entry.name);
		if (entry.isDirectory()) newest = Math.max(newest, newestSource(full));
		else if (entry.name.endsWith(".ts")) newest = Math.max(newest, fs.statSync(full).mtimeMs);
	}
	return newest;
}

/**
 * Builds dist/ (npm run build) unless it is newer than every source. tsc writes its output even
 * when some file does not type-check; that is the type-check's business, not these tests'.
 */
export function ensureBuild(): void {
	const built = path.join(ROOT, "dist/server.js");
	const sources = ["lib", "middlewares", "mixins", "services", "migrations", "scripts"].map(d =>
		newestSource(path.join(ROOT, d))
	);
	const newest = Math.max(
		...sources,
		...["server.ts", "moleculer.config.ts"].map(f => fs.statSync(path.join(ROOT, f)).mtimeMs)
	);
	if (fs.existsSync(built) && fs.statSync(built).mtimeMs >= newest) return;
	spawnSync(process.execPath, [require.resolve("typescript/bin/tsc"), "-p", "tsconfig.build.json"], {
		cwd: ROOT,
		stdio: "ignore"
	});
	if (!fs.existsSync(built)) throw new Error("npm run build did not produce dist/server.js");
}

/** Whether a process with this pid still exists (signal 0 checks without sending anything). */
export function processAlive(pid: number): boolean {
	try {
		process.kill(pid, 0);
		return true;
	} catch (err) {
		return (err as NodeJS.ErrnoException).code === "EPERM";
	}
}

/** Resolves with the exit code once the child has exited (null: killed by a signal); rejects after `timeoutMs`. */
export function exitOf(child: ChildProcess, timeoutMs = 30_000): Promise<number | null> {
	if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
	return new Promise((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error(`still running after ${timeoutMs} ms`)), timeoutMs);
		child.once("exit", code => {
			clearTimeout(timer);
			resolve(code);
		});
	});
}
