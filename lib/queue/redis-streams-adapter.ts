import { Adapters } from "@moleculer/channels";
import type { Cluster, Redis } from "ioredis";

type Chan = Parameters<InstanceType<typeof Adapters.Redis>["subscribe"]>[0];
type Client = Redis | Cluster;
type Target = { name: string; group: string };

/** Redis's answer once a stream's consumer group is gone; Redis 7 also unblocks a reader whose stream was deleted. */
const GROUP_LOST = /^(NOGROUP|UNBLOCKED)\b/;

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
 * loop goes on; any failure repeated backs off. Everything else is upstream's, options included.
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

	async unsubscribe(chan: Chan) {
		const done = super.unsubscribe(chan);
		this.wakeSleepers();
		await done;
		this.subscribed.delete(chan.id);
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
