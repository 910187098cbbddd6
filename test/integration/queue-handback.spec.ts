import crypto from "crypto";
import Redis from "ioredis";
import { BrokerOptions, Context, ServiceBroker } from "moleculer";
import { createChannelsMiddleware } from "../../lib/channels";
import { HANDBACK_CONSUMER } from "../../lib/queue/redis-streams-adapter";
import { serverSuite } from "../helpers/servers";
import { until } from "../helpers/wait";

const CHANNEL = "handback.jobs";
const GROUP = "handback-workers";
/** The production default: without a hand-back, a job left by a stopped consumer waits this long. */
const REDELIVERY_SECONDS = 30;
const SHUTDOWN_TIMEOUT_MS = 1500;

interface Job {
	n: number;
}

/** A worker node: runs the jobs it gets, and holds those `hold` names until the test lets them go. */
class Worker {
	readonly broker: ServiceBroker;
	readonly started: number[] = [];
	readonly finished: number[] = [];
	private readonly waiters = new Set<() => void>();
	private readonly held: Array<() => void> = [];

	constructor(namespace: string, url: string, name: string, hold: (job: Job) => boolean) {
		this.broker = new ServiceBroker({
			namespace,
			nodeID: `${name}-${namespace}`,
			logger: false,
			tracking: { enabled: true, shutdownTimeout: SHUTDOWN_TIMEOUT_MS },
			middlewares: [
				createChannelsMiddleware({ queueUrl: url, queueRedeliverySeconds: REDELIVERY_SECONDS })
			] as unknown as BrokerOptions["middlewares"]
		});
		const run = async (ctx: Context<Job>) => {
			this.record(this.started, ctx.params.n);
			if (hold(ctx.params)) await new Promise<void>(resolve => this.held.push(resolve));
			this.record(this.finished, ctx.params.n);
		};
		this.broker.createService({
			name: "worker",
			channels: { [CHANNEL]: { group: GROUP, handler: run } }
		} as never);
	}

	/** Resolves once `list` (started or finished) holds job `n`; the handlers tell, no polling. */
	reached(list: number[], n: number): Promise<void> {
		return new Promise(resolve => {
			const check = () => {
				if (!list.includes(n)) return;
				this.waiters.delete(check);
				resolve();
			};
			this.waiters.add(check);
			check();
		});
	}

	releaseHeld() {
		for (const release of this.held.splice(0)) release();
	}

	private record(list: number[], n: number) {
		list.push(n);
		for (const check of [...this.waiters]) check();
	}
}

/** Rejects when `promise` takes longer than `ms`, naming what was awaited. */
function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
	let timer: NodeJS.Timeout;
	const late = new Promise<never>((_, reject) => {
		timer = setTimeout(() => reject(new Error(`${what} took more than ${ms} ms`)), ms);
	});
	return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

serverSuite("redis", "queue consumers hand back unfinished jobs when they stop (Redis Streams)", ({ url }) => {
	let namespace: string;
	let admin: Redis;
	const workers: Worker[] = [];

	function worker(name: string, hold: (job: Job) => boolean = () => false): Worker {
		const made = new Worker(namespace, url, name, hold);
		workers.push(made);
		return made;
	}

	const stream = () => `${namespace}.${CHANNEL}`;
	const pendingCount = async () => ((await admin.xpending(stream(), GROUP)) as [number])[0];

	beforeEach(() => {
		namespace = `test-handback-${crypto.randomBytes(4).toString("hex")}`;
		admin = new Redis(url);
	});

	afterEach(async () => {
		for (const w of workers.splice(0)) {
			w.releaseHeld();
			await w.broker.stop();
		}
		await admin.del(stream());
		await admin.quit();
	});

	test("a job whose consumer stopped mid-handler is run by another consumer at once, not after the redelivery time", async () => {
		const leaving = worker("leaving", job => job.n === 1);
		await leaving.broker.start();
		await leaving.broker.sendToChannel(CHANNEL, { n: 1 });
		await within(5000, "the first consumer starting the job", leaving.reached(leaving.started, 1));

		// Holds the job too, so the test can look at it while it is pending on the consumer that took it over.
		const staying = worker("staying", job => job.n === 1);
		await staying.broker.start();
		const stoppedAt = Date.now();
		await within(SHUTDOWN_TIMEOUT_MS + 3000, "stopping the consumer holding the job", leaving.broker.stop());
		await within(5000, "the other consumer taking the handed-back job", staying.reached(staying.started, 1));
		expect(Date.now() - stoppedAt).toBeLessThan((REDELIVERY_SECONDS * 1000) / 3);

		// Owned by the consumer that stays now, delivered to it once: the interrupted delivery does not count against the job's retries.
		const [entry] = (await admin.xpending(stream(), GROUP, "-", "+", 10)) as [string, string, number, number][];
		expect(entry[1]).toContain(staying.broker.nodeID);
		expect(entry[3]).toBe(1);
		const consumers = (await admin.xinfo("CONSUMERS", stream(), GROUP)) as unknown[][];
		expect(consumers.map(c => c[1])).toContain(HANDBACK_CONSUMER);

		staying.releaseHeld();
		await within(5000, "the other consumer finishing the job", staying.reached(staying.finished, 1));
		expect(leaving.finished).toEqual([]);
		expect(staying.started).toEqual([1]);
		// The adapter acknowledges after the handler returns, so the ack may trail `finished`.
		await until(async () => (await pendingCount()) === 0, "the handed-back job acknowledged", { timeoutMs: 5000 });
	});

	test("a job that finishes within the shutdown timeout is acknowledged by the stopping consumer and not run again", async () => {
		const leaving = worker("leaving", job => job.n === 2);
		await leaving.broker.start();
		await leaving.broker.sendToChannel(CHANNEL, { n: 2 });
		await within(5000, "the consumer starting the job", leaving.reached(leaving.started, 2));
		const staying = worker("staying");
		await staying.broker.start();

		const stopping = leaving.broker.stop();
		// The job ends a third of the way into the shutdown timeout.
		setTimeout(() => leaving.releaseHeld(), SHUTDOWN_TIMEOUT_MS / 3);
		await within(SHUTDOWN_TIMEOUT_MS + 3000, "stopping after the job finished", stopping);

		expect(leaving.finished).toEqual([2]);
		expect(await pendingCount()).toBe(0);
		expect(staying.started).toEqual([]);
	});

	test("a consumer that stops reads no new jobs; those go to the consumers that stay", async () => {
		const leaving = worker("leaving", job => job.n === 3);
		const staying = worker("staying");
		await leaving.broker.start();
		await leaving.broker.sendToChannel(CHANNEL, { n: 3 });
		await within(5000, "the first job starting", leaving.reached(leaving.started, 3));
		await staying.broker.start();

		const stopping = leaving.broker.stop();
		// Sent while the first consumer drains: only the one staying may take it.
		await staying.broker.sendToChannel(CHANNEL, { n: 4 });
		await within(5000, "the new job running on the consumer that stays", staying.reached(staying.finished, 4));
		await within(SHUTDOWN_TIMEOUT_MS + 3000, "stopping", stopping);
		await within(5000, "the handed-back job running", staying.reached(staying.finished, 3));
		expect(leaving.started).toEqual([3]);
		await until(async () => (await pendingCount()) === 0, "both jobs acknowledged", { timeoutMs: 5000 });
	});
});
