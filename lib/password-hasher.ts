import { Worker } from "worker_threads";
import { GoChatError, OVERLOAD_RETRY_AFTER_SECONDS } from "./errors";

/**
 * bcrypt off the event loop: a fixed pool of worker threads, each hashing one password at a
 * time, and a bounded line of hashes waiting for one. Past that line a hash is refused at once
 * with OVERLOADED, so a flood of logins costs the server a few threads' CPU, never its latency.
 *
 * The workers run bcryptjs (no native build). Their code is inline and bcryptjs is required by
 * absolute path, so the pool works the same under ts-jest, ts-node and the compiled build.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require("worker_threads");
const bcrypt = require(workerData.bcryptjs);
parentPort.on("message", job => {
	try {
		const result = job.op === "hash" ? bcrypt.hashSync(job.password, job.rounds) : bcrypt.compareSync(job.password, job.hash);
		parentPort.postMessage({ result });
	} catch (err) {
		parentPort.postMessage({ error: String((err && err.message) || err) });
	}
});
`;

type Job = { op: "hash"; password: string; rounds: number } | { op: "compare"; password: string; hash: string };

interface Pending {
	job: Job;
	resolve(result: unknown): void;
	reject(err: Error): void;
}

interface PoolWorker {
	thread: Worker;
	current: Pending | null;
}

export interface PasswordHasherOptions {
	workers: number;
	/** Hashes that may wait for a free worker (0: only as many as there are workers at once). */
	queue: number;
	rounds: number;
}

export class PasswordHasher {
	private readonly workers: PoolWorker[] = [];
	private readonly idle: PoolWorker[] = [];
	private readonly waiting: Pending[] = [];
	private closed = false;

	constructor(private readonly options: PasswordHasherOptions) {
		for (let i = 0; i < options.workers; i++) this.spawn();
	}

	hash(password: string): Promise<string> {
		return this.run({ op: "hash", password, rounds: this.options.rounds }) as Promise<string>;
	}

	compare(password: string, hash: string): Promise<boolean> {
		return this.run({ op: "compare", password, hash }) as Promise<boolean>;
	}

	/** Refuses what runs and waits, and stops the threads; a closed pool refuses everything. */
	async close(): Promise<void> {
		this.closed = true;
		const workers = this.workers.splice(0);
		this.idle.length = 0;
		const refused = [...this.waiting.splice(0), ...workers.map(worker => worker.current)];
		for (const worker of workers) worker.current = null;
		for (const pending of refused) pending?.reject(closedError());
		await Promise.all(workers.map(worker => worker.thread.terminate()));
	}

	private run(job: Job): Promise<unknown> {
		if (this.closed) return Promise.reject(closedError());
		if (this.idle.length === 0 && this.waiting.length >= this.options.queue) {
			return Promise.reject(
				new GoChatError("OVERLOADED", "Too many passwords to check at once; retry shortly", {
					retryAfter: OVERLOAD_RETRY_AFTER_SECONDS
				})
			);
		}
		return new Promise((resolve, reject) => {
			const pending = { job, resolve, reject };
			const worker = this.idle.pop();
			if (worker) this.start(worker, pending);
			else this.waiting.push(pending);
		});
	}

	private spawn(): PoolWorker {
		// eval: the source is code, not a file name; workerData says where bcryptjs lives.
		const thread = new Worker(WORKER_SOURCE, { eval: true, workerData: { bcryptjs: require.resolve("bcryptjs") } });
		const worker: PoolWorker = { thread, current: null };
		thread.unref();
		thread.on("message", (reply: { result?: unknown; error?: string }) => {
			const pending = worker.current;
			worker.current = null;
			if (pending) {
				if (reply.error !== undefined) pending.reject(new Error(`Password hashing failed: ${reply.error}`));
				else pending.resolve(reply.result);
			}
			this.next(worker);
		});
		// A thread that dies takes its job with it; a new one takes its place.
		thread.on("error", err => {
			const pending = worker.current;
			worker.current = null;
			pending?.reject(err);
		});
		thread.on("exit", () => this.replace(worker));
		this.workers.push(worker);
		this.idle.push(worker);
		return worker;
	}

	private replace(dead: PoolWorker) {
		const at = this.workers.indexOf(dead);
		if (at < 0) return;
		this.workers.splice(at, 1);
		const idleAt = this.idle.indexOf(dead);
		if (idleAt >= 0) this.idle.splice(idleAt, 1);
		dead.current?.reject(new Error("A password hashing thread stopped"));
		dead.current = null;
		if (this.closed) return;
		const fresh = this.spawn();
		this.idle.splice(this.idle.indexOf(fresh), 1);
		this.next(fresh);
	}

	private start(worker: PoolWorker, pending: Pending) {
		worker.current = pending;
		// A busy thread keeps the process alive until its answer arrives; an idle one does not.
		worker.thread.ref();
		worker.thread.postMessage(pending.job);
	}

	private next(worker: PoolWorker) {
		const pending = this.waiting.shift();
		if (pending) return this.start(worker, pending);
		worker.thread.unref();
		this.idle.push(worker);
	}
}

function closedError(): Error {
	return new Error("The password hasher was closed");
}
