import { ChildProcess, spawn } from "child_process";
import fs from "fs";
import net from "net";
import os from "os";
import path from "path";
import Redis from "ioredis";
import { freePort } from "./processes";
import { server } from "./servers";

/**
 * A private redis-server for fault tests: its own free port and data directory, with RDB
 * persistence on, so a test can SAVE, kill -9 it and start it again from its dump file, or
 * FLUSHALL it, without touching the machine's shared Redis.
 */
export interface PrivateRedis {
	url: string;
	port: number;
	/** A client on this server (no key prefix), closed by stop(). */
	admin: Redis;
	/** SIGKILL: no final save; what is on disk is the last SAVE. */
	kill(): Promise<void>;
	/** Starts it again on the same port and directory (it loads the dump file). */
	start(): Promise<void>;
	stop(): Promise<void>;
}

/** Whether a redis-server binary is there; suites declare themselves with serverSuite("private-redis", …). */
export function redisServerAvailable(): boolean {
	return server("private-redis") !== null;
}

async function waitForPing(port: number, child: ChildProcess): Promise<void> {
	for (let i = 0; i < 200; i++) {
		if (child.exitCode !== null) throw new Error(`redis-server on ${port} exited with ${child.exitCode}`);
		const ok = await new Promise<boolean>(resolve => {
			const socket = net.connect(port, "127.0.0.1");
			socket.once("connect", () => {
				socket.write("PING\r\n");
				socket.once("data", data => {
					socket.destroy();
					// A server still loading its dump answers -LOADING.
					resolve(data.toString().startsWith("+PONG"));
				});
			});
			socket.once("error", () => resolve(false));
		});
		if (ok) return;
		await new Promise(resolve => setTimeout(resolve, 25));
	}
	throw new Error(`redis-server on ${port} did not answer PING`);
}

export async function startPrivateRedis(): Promise<PrivateRedis> {
	const port = await freePort();
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gochat-redis-"));
	let child: ChildProcess | null = null;
	const launch = async () => {
		const args = [
			"--port",
			String(port),
			"--bind",
			"127.0.0.1",
			"--dir",
			dir,
			"--dbfilename",
			"dump.rdb",
			"--save",
			"",
			"--appendonly",
			"no",
			"--logfile",
			path.join(dir, "redis.log")
		];
		const started = spawn("redis-server", args, { stdio: "ignore" });
		child = started;
		await waitForPing(port, started);
	};
	await launch();
	// Reconnects while a test restarts the server, but gives up after a minute so Jest can exit.
	const admin = new Redis(port, "127.0.0.1", {
		maxRetriesPerRequest: 1,
		lazyConnect: false,
		retryStrategy: times => (times > 120 ? null : 500)
	});
	const exited = (process: ChildProcess) =>
		new Promise<void>(resolve => {
			if (process.exitCode !== null || process.signalCode !== null) resolve();
			else process.once("exit", () => resolve());
		});
	return {
		url: `redis://127.0.0.1:${port}`,
		port,
		admin,
		async kill() {
			if (!child) return;
			const running = child;
			child = null;
			running.kill("SIGKILL");
			await exited(running);
		},
		start: launch,
		async stop() {
			admin.disconnect();
			if (child) {
				const running = child;
				child = null;
				running.kill("SIGKILL");
				await exited(running);
			}
			fs.rmSync(dir, { recursive: true, force: true });
		}
	};
}
