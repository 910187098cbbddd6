import Redis from "ioredis";
import type { AttemptDecision, BackoffCounter } from "../backoff";
import type { Rate } from "../rate-limit";
import type { StateStore } from "./state-store";

/** Redis's own clock in milliseconds, so every node of a cluster decides by the same time. */
const NOW_MS = `local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)`;

/** lib/rate-limit.ts decide(), on the key's stored TAT. ARGV: count, periodMs, cost. */
const RATE_LIMIT = `${NOW_MS}
local count, period, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
local nextTat = math.max(tat, now) + period / count * cost
local overshoot = nextTat - now - period
if overshoot > 0 then return {0, math.ceil(overshoot)} end
redis.call('SET', KEYS[1], string.format('%.3f', nextTat), 'PX', math.max(1, math.ceil(nextTat - now)))
return {1, 0}`;

/** Reads a "<count>:<last ms>" attempt state (lib/backoff.ts) into count, last. */
const READ_ATTEMPTS = `local function attempts(key)
  local raw = redis.call('GET', key)
  local sep = raw and string.find(raw, ':', 1, true)
  if not sep then return 0, 0 end
  return tonumber(string.sub(raw, 1, sep - 1)), tonumber(string.sub(raw, sep + 1))
end`;

/** lib/backoff.ts decideAttempt(), then the count on every key (attemptsTtl). ARGV: free, baseMs, maxMs, memoryMs per key. */
const COUNT_ATTEMPT = `${NOW_MS}
${READ_ATTEMPTS}
local function delay(i, count)
  local at = (i - 1) * 4
  local free, base, max = tonumber(ARGV[at + 1]), tonumber(ARGV[at + 2]), tonumber(ARGV[at + 3])
  if count < free then return 0 end
  return math.min(max, base * 2 ^ math.min(count - free, 40))
end
local counts, wait, refusedBy = {}, 0, -1
for i, key in ipairs(KEYS) do
  local count, last = attempts(key)
  counts[i] = count
  local left = last + delay(i, count) - now
  if left > wait then wait, refusedBy = left, i - 1 end
end
if refusedBy >= 0 then return {0, math.ceil(wait), refusedBy} end
for i, key in ipairs(KEYS) do
  local count = counts[i] + 1
  redis.call('SET', key, count .. ':' .. now, 'PX', math.ceil(delay(i, count) + tonumber(ARGV[i * 4])))
end
return {1, 0, -1}`;

/** One attempt fewer on each key, keeping its expiry; a key never stays without one. */
const UNCOUNT_ATTEMPT = `${READ_ATTEMPTS}
for _, key in ipairs(KEYS) do
  local count, last = attempts(key)
  local ttl = redis.call('PTTL', key)
  if count > 1 and ttl > 0 then
    redis.call('SET', key, (count - 1) .. ':' .. last, 'PX', ttl)
  elseif ttl ~= -2 then
    redis.call('DEL', key)
  end
end
return 0`;

/** The scripts as ioredis commands: EVALSHA, loaded on first use; keys get the store's prefix. */
interface Scripts {
	gochatRateLimit(key: string, count: number, periodMs: number, cost: number): Promise<[number, number]>;
	gochatCountAttempt(numKeys: number, ...keysThenArgs: Array<string | number>): Promise<[number, number, number]>;
	gochatUncountAttempt(numKeys: number, ...keys: string[]): Promise<number>;
}

/** The distributed store: every node of a cluster shares one Redis under one key prefix. */
export class RedisStateStore implements StateStore {
	readonly redis: Redis;

	constructor(
		url: string,
		readonly prefix: string
	) {
		this.redis = new Redis(url, {
			keyPrefix: prefix,
			maxRetriesPerRequest: 3,
			enableAutoPipelining: true,
			lazyConnect: false
		});
		// ioredis reconnects by itself; commands meanwhile fail and their callers answer 503. One line per outage is enough.
		let reported = false;
		this.redis.on("error", (err: Error) => {
			if (!reported) console.warn(`Redis at ${new URL(url).host}: ${err.message}; reconnecting`);
			reported = true;
		});
		this.redis.on("ready", () => {
			reported = false;
		});
		this.redis.defineCommand("gochatRateLimit", { numberOfKeys: 1, lua: RATE_LIMIT });
		this.redis.defineCommand("gochatCountAttempt", { lua: COUNT_ATTEMPT });
		this.redis.defineCommand("gochatUncountAttempt", { lua: UNCOUNT_ATTEMPT });
	}

	private get scripts(): Scripts {
		return this.redis as unknown as Scripts;
	}

	async get(key: string) {
		return this.redis.get(key);
	}

	async set(key: string, value: string, ttlSeconds?: number) {
		if (ttlSeconds) await this.redis.set(key, value, "EX", ttlSeconds);
		else await this.redis.set(key, value);
	}

	async setNx(key: string, value: string, ttlSeconds?: number) {
		const reply = ttlSeconds
			? await this.redis.set(key, value, "EX", ttlSeconds, "NX")
			: await this.redis.set(key, value, "NX");
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

	async rateLimit(key: string, rate: Rate, cost = 1) {
		const [allowed, retryAfterMs] = await this.scripts.gochatRateLimit(key, rate.count, rate.periodMs, cost);
		return { allowed: allowed === 1, retryAfterMs };
	}

	async countAttempt(counters: BackoffCounter[]): Promise<AttemptDecision> {
		if (counters.length === 0) return { allowed: true, retryAfterMs: 0, refusedBy: -1 };
		const args = counters.flatMap(c => [c.free, c.baseMs, c.maxMs, Math.max(1, Math.ceil(c.memoryMs))]);
		const [allowed, retryAfterMs, refusedBy] = await this.scripts.gochatCountAttempt(
			counters.length,
			...counters.map(c => c.key),
			...args
		);
		return { allowed: allowed === 1, retryAfterMs, refusedBy };
	}

	async uncountAttempt(...keys: string[]) {
		if (keys.length > 0) await this.scripts.gochatUncountAttempt(keys.length, ...keys);
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
