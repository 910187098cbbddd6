import Redis from "ioredis";
import type { StateStore } from "./state-store";

/** The distributed store: every node of a cluster shares one Redis under one key prefix. */
export class RedisStateStore implements StateStore {
	readonly redis: Redis;

	constructor(url: string, readonly prefix: string) {
		this.redis = new Redis(url, { keyPrefix: prefix, maxRetriesPerRequest: 3, enableAutoPipelining: true, lazyConnect: false });
		// ioredis reconnects by itself; commands meanwhile fail and their callers answer 503. One line per outage is enough.
		let reported = false;
		this.redis.on("error", (err: Error) => {
			if (!reported) console.warn(`Redis at ${new URL(url).host}: ${err.message}; reconnecting`);
			reported = true;
		});
		this.redis.on("ready", () => { reported = false; });
	}

	async get(key: string) {
		return this.redis.get(key);
	}

	async set(key: string, value: string, ttlSeconds?: number) {
		if (ttlSeconds) await this.redis.set(key, value, "EX", ttlSeconds);
		else await this.redis.set(key, value);
	}

	async setNx(key: string, value: string, ttlSeconds?: number) {
		const reply = ttlSeconds ? await this.redis.set(key, value, "EX", ttlSeconds, "NX") : await this.redis.set(key, value, "NX");
		return reply === "OK";
	}

	async incr(key: string) {
		return this.redis.incr(key);
	}

	async expire(key: string, ttlSeconds: number) {
		await this.redis.expire(key, ttlSeconds);
	}

	async ttl(key: string) {
		return this.redis.ttl(key);
	}

	async del(...keys: string[]) {
		if (keys.length > 0) await this.redis.del(...keys);
	}

	async zadd(key: string, entries: Array<[number, string]>) {
		if (entries.length === 0) return;
		await this.redis.zadd(key, ...entries.flatMap(([score, member]) => [score, member]));
	}

	async zrem(key: string, ...members: string[]) {
		if (members.length > 0) await this.redis.zrem(key, ...members);
	}

	async zrangeByScore(key: string, min: number, max: number) {
		return this.redis.zrangebyscore(key, bound(min), bound(max));
	}

	async zrangeByScoreMany(keys: string[], min: number, max: number) {
		if (keys.length === 0) return [];
		const pipeline = this.redis.pipeline();
		for (const key of keys) pipeline.zrangebyscore(key, bound(min), bound(max));
		const results = (await pipeline.exec()) ?? [];
		return results.map(([err, members]) => {
			if (err) throw err;
			return members as string[];
		});
	}

	async zremRangeByScore(key: string, min: number, max: number) {
		await this.redis.zremrangebyscore(key, bound(min), bound(max));
	}

	async ztrimToNewest(key: string, keep: number) {
		await this.redis.zremrangebyrank(key, 0, -keep - 1);
	}

	async zminScore(key: string) {
		const first = await this.redis.zrange(key, 0, 0, "WITHSCORES");
		return first.length === 2 ? Number(first[1]) : null;
	}

	async sadd(key: string, ...members: string[]) {
		if (members.length > 0) await this.redis.sadd(key, ...members);
	}

	async srem(key: string, ...members: string[]) {
		if (members.length > 0) await this.redis.srem(key, ...members);
	}

	async smembers(key: string) {
		return this.redis.smembers(key);
	}

	/** MULTI makes the old value and the run_id come from the same server instance. */
	async replaceAndIdentify(key: string, value: string, ttlSeconds: number) {
		const replies = await this.redis.multi().getset(key, value).expire(key, ttlSeconds).info("server").exec();
		if (!replies) throw new Error(`Transaction on ${key} was aborted`);
		for (const [err] of replies) if (err) throw err;
		const serverId = /run_id:(\w+)/.exec(String(replies[2][1]))?.[1];
		if (!serverId) throw new Error("INFO server gave no run_id");
		return { previous: replies[0][1] as string | null, serverId };
	}

	/** QUIT lets pending replies arrive; a connection that is already gone is just dropped. */
	async close() {
		await this.redis.quit().catch(() => this.redis.disconnect());
	}
}

function bound(value: number): string {
	if (value === Infinity) return "+inf";
	if (value === -Infinity) return "-inf";
	return String(value);
}
