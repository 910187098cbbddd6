import { Adapters } from "@moleculer/channels";
import type { Cluster, Redis } from "ioredis";

type Chan = Parameters<InstanceType<typeof Adapters.Redis>["subscribe"]>[0];
type Client = Redis | Cluster;
type Target = { name: string; group: string };

/** Redis's answer once a stream's consumer group is gone; Redis 7 also unblocks a reader whose stream was deleted. */
const GROUP_LOST = /^(NOGROUP|UNBLOCKED)\b/;

/**
 * The consumer a stopping node hands its unfinished jobs to. It never reads: its jobs look idle
 * for the full redelivery time, so the next claim round of any live consumer of the group takes them.
 */
export const HANDBACK_CONSUMER = "gochat-handback";

/** Pending jobs read per XPENDING page while handing back, and pages at most: far more than one consumer holds. */
const HANDBACK_PAGE = 100;
const HANDBACK_MAX_PAGES = 100;

/** Part of the shutdown timeout kept for the hand-back itself, after the drain. */
const HANDBACK_MARGIN_MS = 1000;

/** One XPENDING entry: ID, consumer, milliseconds idle, deliveries. */
type PendingEntry = [string, string, number, number];

/** Pause before retrying after the n-th failure in a row of one read loop: none at first, then 100 ms doubling to 5 s. */
function retryDelay(failures: number): number {
	return failures <= 1 ? 0 : Math.min(5000, 100 * 2 ** (failures - 2));
}

/**
 * The Redis Streams adapter of @moleculer/channels 0.1.8, made to survive Redis losing its data
 * (FLUSHALL, a restart without persistence, a snapshot older than the groups). Upstream creates a
 * consumer group once, at subscribe, and its read loops retry a failing command at once and
 * forever: on NOGROUP that is a tight error loop and the queue is dead. Here the commands those
 * loops issue are guarded: NOGROUP re-creates the group (and the stream), one warning, and the
 * loop goes on; any failure repeated backs off.
 *
 * A stopping consumer also hands its jobs back (docs/architecture.md#queue-handback): it stops
 * reading, lets the handlers it started finish until shortly before the shutdown timeout, then
 * gives every job still pending on it to HANDBACK_CONSUMER instead of dropping them from the group
 * as upstream's XGROUP DELCONSUMER would. Everything else is upstream's, options included.
 */
export class RedisStreamsAdapter extends Adapters.Redis {
	private readonly subscribed = new Map<string, Chan>();
	private readonly failures = new Map<string, number>();
	private readonly recoveries = new Map<string, Promise<void>>();
	private readonly sleepers = new Set<() => void>();

	async subscribe(chan: Chan) {
		// Registered first: subscribe() creates the channel's reading client, which we guard by its name.
		this.subscribed.set(chan.id, chan);
		return super.subscribe(chan);
	}

	/**
	 * Upstream's steps, in an order that loses nothing: stop reading, drain within the deadline,
	 * hand back what is left, and only then delete the consumer (which would drop its pending jobs).
	 */
	async unsubscribe(chan: Chan) {
		if (chan.unsubscribing) return;
		chan.unsubscribing = true;
		// Disconnecting breaks the blocked XREADGROUP; the claim loops see `unsubscribing` and stop.
		this.clients.get(chan.id)?.disconnect();
		this.wakeSleepers();
		await this.drain(chan, this.drainDeadline());
		const pub = this.clients.get(this.pubName) as Redis;
		try {
			await this.handBack(pub, chan);
		} catch (err) {
			this.logger.warn(
				`Could not hand back the jobs of '${chan.name}' held by ${chan.id}; they are delivered again after QUEUE_REDELIVERY_SECONDS: ${(err as Error).message}`
			);
		}
		const active = this.activeMessages.get(chan.id);
		if (active) active.length = 0;
		this.stopChannelActiveMessages(chan.id);
		this.clients.delete(chan.id);
		this.subscribed.delete(chan.id);
		await pub.xgroup("DELCONSUMER", chan.name, chan.group, chan.id).catch(() => undefined);
	}

	async disconnect() {
		const done = super.disconnect();
		this.wakeSleepers();
		return done;
	}

	async createRedisClient(name: string, opts: unknown): Promise<Client> {
		const client = await super.createRedisClient(name, opts);
		const chan = this.subscribed.get(name);
		const byArgs = (args: unknown[]): Target => ({ name: String(args[0]), group: String(args[1]) });
		if (chan) {
			this.guard(client, "xreadgroupBuffer", () => chan, null);
		} else if (name === this.claimName) {
			this.guard(client, "xautoclaimBuffer", byArgs, null);
		} else if (name === this.nackedName) {
			this.guard(client, "xpending", byArgs, []);
			// Upstream counts the claimed jobs as in flight before this call; an error here would keep them so, and stop() would wait forever.
			this.guard(client, "xclaimBuffer", byArgs, []);
		}
		return client;
	}

	/**
	 * An acknowledgement that fails (Redis gone for longer than the client retries) rejects a
	 * promise upstream never awaits, and leaves its jobs counted as in flight: the process would
	 * crash on the unhandled rejection or hang in stop(). The jobs stay pending in Redis and are
	 * delivered again.
	 */
	async processMessage(chan: Chan, message: unknown[]) {
		try {
			await super.processMessage(chan, message);
		} catch (err) {
			const { ids } = this.parseMessage(message) as { ids: string[] };
			if (chan.unsubscribing && !this.activeMessages.has(chan.id)) {
				this.logger.info(
					`${ids.length} job(s) of '${chan.name}' finished after this consumer handed them back; another consumer may run them again`
				);
				return;
			}
			if (this.activeMessages.has(chan.id)) this.removeChannelActiveMessages(chan.id, ids);
			this.logger.warn(
				`Could not acknowledge ${ids.length} job(s) of '${chan.name}'; they will be delivered again: ${(err as Error).message}`
			);
		}
	}

	/**
	 * Wraps one command of a read loop: on a lost group, re-creates it and answers `nothing` so
	 * the loop simply reads again; other errors go back to upstream's loop, which logs them, after
	 * the backoff. While the channel stops, errors pass straight through, as upstream expects.
	 */
	private guard(client: Client, method: string, target: (args: unknown[]) => Target, nothing: unknown) {
		const commands = client as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
		const command = commands[method].bind(client);
		commands[method] = async (...args: unknown[]) => {
			const { name, group } = target(args);
			const key = `${method} ${name} ${group}`;
			try {
				const reply = await command(...args);
				this.failures.delete(key);
				return reply;
			} catch (err) {
				if (this.closing(name, group)) throw err;
				const failures = (this.failures.get(key) ?? 0) + 1;
				this.failures.set(key, failures);
				await this.sleep(retryDelay(failures));
				if (this.closing(name, group) || !GROUP_LOST.test((err as Error).message)) throw err;
				await this.recreateGroup(name, group);
				return nothing;
			}
		};
	}

	/** Shortly before the broker's shutdown timeout (SHUTDOWN_TIMEOUT), so the hand-back still fits in it. */
	private drainDeadline(): number {
		const timeout = this.broker.options.tracking?.shutdownTimeout ?? 5000;
		return Date.now() + Math.max(0, timeout - Math.min(HANDBACK_MARGIN_MS, timeout / 5));
	}

	/** Waits for the channel's running handlers until `deadline`; no event tells when one ends, so it polls. */
	private async drain(chan: Chan, deadline: number): Promise<void> {
		const running = () => this.getNumberOfChannelActiveMessages(chan.id);
		if (running() === 0) return;
		this.logger.info(
			`Finishing ${running()} job(s) of '${chan.name}' before stopping (up to ${Math.ceil((deadline - Date.now()) / 1000)} s)`
		);
		while (running() > 0 && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 50));
	}

	/**
	 * Gives every job still pending on this consumer to HANDBACK_CONSUMER, marked idle for the whole
	 * redelivery time, so another consumer claims it within a claim interval. Besides the handlers
	 * still running, that covers a reply XREADGROUP had on the way when its connection was cut, and
	 * a failed job waiting for its retry (retried a little sooner). An interrupted delivery is not
	 * counted against the job's retries. Each page leaves the consumer, so the next starts over.
	 */
	private async handBack(pub: Redis, chan: Chan): Promise<void> {
		const running = new Set(this.activeMessages.get(chan.id) ?? []);
		let handedBack = 0;
		for (let pages = 0; pages < HANDBACK_MAX_PAGES; pages++) {
			const page = (await pub.xpending(
				chan.name,
				chan.group,
				"-",
				"+",
				HANDBACK_PAGE,
				chan.id
			)) as PendingEntry[];
			for (const [id, , idle, deliveries] of page) {
				const interrupted = running.has(id);
				await pub.xclaim(
					chan.name,
					chan.group,
					HANDBACK_CONSUMER,
					0,
					id,
					"IDLE",
					Math.max(idle, chan.redis.minIdleTime),
					"RETRYCOUNT",
					interrupted ? Math.max(0, deliveries - 1) : deliveries,
					"JUSTID"
				);
			}
			handedBack += page.length;
			if (page.length < HANDBACK_PAGE) break;
		}
		if (handedBack > 0) {
			this.logger.info(
				`Handed back ${handedBack} unfinished job(s) of '${chan.name}' (${running.size} interrupted); another consumer of '${chan.group}' takes them`
			);
		}
	}

	private closing(name: string, group: string): boolean {
		if (this.stopping) return true;
		return [...this.subscribed.values()].some(
			chan => chan.name === name && chan.group === group && chan.unsubscribing
		);
	}

	/** One re-creation at a time per group, shared by the loops that noticed. */
	private recreateGroup(stream: string, group: string): Promise<void> {
		const key = `${stream} ${group}`;
		let running = this.recoveries.get(key);
		if (!running) {
			running = this.createGroup(stream, group).finally(() => this.recoveries.delete(key));
			this.recoveries.set(key, running);
		}
		return running;
	}

	private async createGroup(stream: string, group: string): Promise<void> {
		const client = this.clients.get(this.pubName) as Redis;
		try {
			// From "0", not upstream's "$": what the stream holds now was queued after the loss (or
			// predates the group, after an old snapshot); at least once, clients drop duplicates.
			await client.xgroup("CREATE", stream, group, "0", "MKSTREAM");
		} catch (err) {
			// Another loop of this node, or another node, re-created it first.
			if ((err as Error).message.startsWith("BUSYGROUP")) return;
			throw err;
		}
		this.logger.warn(
			`Redis lost consumer group '${group}' of stream '${stream}' (flushed, restarted empty or restored from an older snapshot): ` +
				"re-created it; jobs queued before the loss are gone, clients catch up with sync."
		);
	}

	private sleep(ms: number): Promise<void> {
		if (ms <= 0) return Promise.resolve();
		return new Promise(resolve => {
			const wake = () => {
				clearTimeout(timer);
				this.sleepers.delete(wake);
				resolve();
			};
			const timer = setTimeout(wake, ms);
			this.sleepers.add(wake);
		});
	}

	private wakeSleepers() {
		for (const wake of [...this.sleepers]) wake();
	}
}
