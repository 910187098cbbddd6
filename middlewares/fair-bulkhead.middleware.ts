import { Errors, type ActionHandler, type ActionSchema, type Context, type ServiceBroker } from "moleculer";
import { performance } from "perf_hooks";
import { GoChatError, OVERLOAD_RETRY_AFTER_SECONDS } from "../lib/errors";
import { FairQueue } from "../lib/fair-queue";

/** Declared on an action as `fairBulkhead`: a bulkhead whose waiting calls take turns by key. */
export interface FairBulkheadOptions {
	/** Calls of this action running at once on this node. */
	concurrency: number;
	/** Calls that may wait for a slot, all keys together; past them QueueIsFullError (503 OVERLOADED). */
	maxQueueSize: number;
	/** Calls one key may have waiting; past them 429 RATE_LIMITED. */
	maxQueuePerKey: number;
	/** Whose call this is (the user): free slots go round the keys in turn. Calls without a key share one. */
	key(ctx: Context): string | undefined;
}

declare module "moleculer" {
	interface ActionSchema {
		fairBulkhead?: FairBulkheadOptions;
	}
}

/** How the bulkhead refuses, made by whoever knows the action. */
export interface FairBulkheadRefusals {
	/** The key already has maxQueuePerKey calls waiting. */
	keyFull(): Error;
	/** maxQueueSize calls are waiting. */
	full(): Error;
	/** The call's turn came after its caller had given up. */
	expired(): Error;
}

interface Waiting {
	task(): Promise<unknown>;
	/** performance.now() after which the caller has given up (Infinity: never). */
	deadline: number;
	resolve(value: unknown): void;
	reject(err: unknown): void;
}

/**
 * Slots and waiting room of one action. A call runs at once while a slot is free (then nobody
 * waits: every freed slot is handed on before it counts as free); otherwise it waits in its key's
 * queue, and freed slots go to the keys in turn, so one key's burst delays only that key. A call
 * whose caller gave up while it waited is dropped when its turn comes, never run.
 */
export class FairBulkhead {
	private running = 0;
	private readonly waiting = new FairQueue<Waiting>();

	constructor(
		private readonly limits: Pick<FairBulkheadOptions, "concurrency" | "maxQueueSize" | "maxQueuePerKey">,
		private readonly refusals: FairBulkheadRefusals,
		/** Told the running and waiting counts after every change (metrics). */
		private readonly onChange: (running: number, waiting: number) => void = () => undefined,
		private readonly now: () => number = () => performance.now()
	) {}

	get inFlight(): number {
		return this.running;
	}

	get queued(): number {
		return this.waiting.size;
	}

	run<T>(key: string, deadline: number, task: () => Promise<T>): Promise<T> {
		if (this.running < this.limits.concurrency) return this.start(task);
		const refusal = this.makeRoom(key);
		if (refusal) return Promise.reject(refusal);
		return new Promise<T>((resolve, reject) => {
			this.waiting.push(key, { task, deadline, resolve: resolve as (value: unknown) => void, reject });
			this.onChange(this.running, this.waiting.size);
		});
	}

	/** The refusal for a call that has no room to wait; calls whose callers gave up make room first. */
	private makeRoom(key: string): Error | undefined {
		if (this.waiting.sizeOf(key) >= this.limits.maxQueuePerKey) this.dropExpired(key);
		if (this.waiting.sizeOf(key) >= this.limits.maxQueuePerKey) return this.refusals.keyFull();
		if (this.waiting.size >= this.limits.maxQueueSize) this.dropExpired();
		if (this.waiting.size >= this.limits.maxQueueSize) return this.refusals.full();
	}

	private dropExpired(key?: string): void {
		const now = this.now();
		for (const item of this.waiting.removeWhere(w => w.deadline <= now, key)) item.reject(this.refusals.expired());
	}

	private start<T>(task: () => Promise<T>): Promise<T> {
		this.running++;
		this.onChange(this.running, this.waiting.size);
		let result: Promise<T>;
		try {
			result = task();
		} catch (err) {
			result = Promise.reject(err);
		}
		return result.then(
			value => {
				this.release();
				return value;
			},
			err => {
				this.release();
				throw err;
			}
		);
	}

	/** A slot is free: it goes to the next key in turn, skipping calls whose callers gave up. */
	private release(): void {
		this.running--;
		while (this.running < this.limits.concurrency) {
			const item = this.waiting.shift();
			if (!item) break;
			if (item.deadline <= this.now()) item.reject(this.refusals.expired());
			else item.resolve(this.start(item.task));
		}
		this.onChange(this.running, this.waiting.size);
	}
}

/** The moment the caller of this context gives up: Moleculer's Timeout middleware set both fields. */
export function deadlineOf(ctx: Context & { startHrTime?: [number, number] }, now = performance.now()): number {
	const timeout = ctx.options.timeout;
	if (!timeout || timeout <= 0 || !ctx.startHrTime) return Infinity;
	const [seconds, nanos] = process.hrtime(ctx.startHrTime);
	return now + timeout - (seconds * 1e3 + nanos / 1e6);
}

const INFLIGHT = "moleculer.request.bulkhead.inflight";
const QUEUE_SIZE = "moleculer.request.bulkhead.queue.size";

/**
 * Wraps the local actions that declare `fairBulkhead` (instead of Moleculer's FIFO `bulkhead`).
 * It is registered before Moleculer's internal middlewares, so it runs inside them: the Timeout
 * middleware has set the caller's deadline and the Validator has refused bad params before a
 * call takes a place in the queue. It reports the stock bulkhead's gauges.
 */
export function FairBulkheadMiddleware() {
	let broker: ServiceBroker;
	return {
		name: "FairBulkhead",

		created(b: ServiceBroker) {
			broker = b;
			if (!broker.isMetricsEnabled()) return;
			for (const name of [INFLIGHT, QUEUE_SIZE]) {
				if (!broker.metrics.getMetric(name))
					broker.metrics.register({ name, type: "gauge", labelNames: ["action", "service"] });
			}
		},

		localAction(handler: ActionHandler, action: ActionSchema) {
			const options = action.fairBulkhead;
			if (!options) return handler;
			const actionName = action.name as string;
			const labels = { action: actionName, service: action.service?.fullName };
			const nodeID = broker.nodeID;
			const bulkhead = new FairBulkhead(
				options,
				{
					keyFull: () =>
						new GoChatError(
							"RATE_LIMITED",
							"Too many of your requests are already waiting; retry shortly",
							{ retryAfter: OVERLOAD_RETRY_AFTER_SECONDS }
						),
					full: () => new Errors.QueueIsFullError({ action: actionName, nodeID }),
					expired: () => new Errors.RequestTimeoutError({ action: actionName, nodeID })
				},
				(running, waiting) => {
					if (!broker.isMetricsEnabled()) return;
					broker.metrics.set(INFLIGHT, running, labels);
					broker.metrics.set(QUEUE_SIZE, waiting, labels);
				}
			);
			return (ctx: Context) =>
				bulkhead.run(options.key(ctx) ?? "", deadlineOf(ctx), () => handler(ctx) as Promise<unknown>);
		}
	};
}
