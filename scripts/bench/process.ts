import { ChildProcess, spawn } from "child_process";
import fs from "fs";
import { freePort } from "../lib/ports";
import { BenchError, sleep } from "./util";

/** Child processes the bench starts (GoChat, the relay) and what it reads about them from /proc. */
export interface Child {
	baseUrl: string;
	process: ChildProcess;
	stop(): Promise<void>;
}

/** Runs `node <script>` with PORT set to a free port and waits until GET /ready answers 200. */
export async function startChild(name: string, script: string, env: NodeJS.ProcessEnv): Promise<Child> {
	const port = await freePort();
	const child = spawn(process.execPath, [script], {
		env: { ...env, PORT: String(port) },
		stdio: ["ignore", "inherit", "inherit"]
	});
	const exited = new Promise<void>(resolve => child.once("exit", () => resolve()));
	const stop = async () => {
		if (child.exitCode !== null || child.signalCode !== null) return;
		child.kill("SIGTERM");
		const killer = setTimeout(() => child.kill("SIGKILL"), 15000);
		await exited;
		clearTimeout(killer);
	};
	const baseUrl = `http://127.0.0.1:${port}`;
	for (let i = 0; i < 300; i++) {
		if (child.exitCode !== null) throw new Error(`${name} exited with code ${child.exitCode} before it was ready`);
		if (
			await fetch(`${baseUrl}/ready`).then(
				r => r.ok,
				() => false
			)
		)
			return { baseUrl, process: child, stop };
		await sleep(200);
	}
	await stop();
	throw new Error(`${name} did not become ready in 60 s`);
}

export function rssMiB(pid: number | undefined): number | null {
	if (!pid) return null;
	try {
		const kb = Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]);
		return Number.isFinite(kb) ? kb / 1024 : null;
	} catch {
		return null;
	}
}

/** Samples a process's RSS twice a second and keeps the peak. */
export class RssSampler {
	peak = 0;
	private timer?: NodeJS.Timeout;
	constructor(private readonly pid: number | undefined) {}
	start(): this {
		this.sample();
		this.timer = setInterval(() => this.sample(), 500);
		return this;
	}
	stop(): number {
		clearInterval(this.timer);
		this.sample();
		return this.peak;
	}
	private sample() {
		this.peak = Math.max(this.peak, rssMiB(this.pid) ?? 0);
	}
}

/** The soft and hard "Max open files" of /proc/<pid>/limits. */
export function parseOpenFileLimits(limits: string): { soft: number; hard: number } | null {
	const match = /^Max open files\s+(\S+)\s+(\S+)/m.exec(limits);
	if (!match) return null;
	const value = (v: string) => (v === "unlimited" ? Infinity : Number(v));
	return { soft: value(match[1]), hard: value(match[2]) };
}

/**
 * Fails unless this process may open `needed` files. Node raises its soft limit to the hard one
 * at start (and so does the GoChat child), so only the hard limit can stand in the way.
 */
export function ensureOpenFiles(needed: number): void {
	const limits = parseOpenFileLimits(fs.readFileSync("/proc/self/limits", "utf8"));
	if (!limits || limits.soft >= needed) return;
	throw new BenchError(
		`${needed} open files are needed but the limit is ${limits.soft} (hard ${limits.hard}): raise the hard limit (ulimit -Hn, LimitNOFILE, limits.conf) and run again`
	);
}
