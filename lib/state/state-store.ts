import type { AttemptDecision, BackoffCounter } from "../backoff";
import type { Rate } from "../rate-limit";

/**
 * What GoChat keeps outside the database: presence, sequences, clientMsgId de-duplication, the
 * hot message cache, rate limits and login throttles. The interface is shaped on Redis commands
 * so the in-memory store (embedded default) and the Redis store behave alike; the few
 * read-decide-write steps that must be atomic (rate limits, login attempts) are one call each,
 * a Lua script on Redis.
 */
export interface StateStore {
	get(key: string): Promise<string | null>;
	/** SET with an optional expiry in seconds. */
	set(key: string, value: string, ttlSeconds?: number): Promise<void>;
	/** SET NX (with EX when a TTL is given): true when the key was absent and is now set. */
	setNx(key: string, value: string, ttlSeconds?: number): Promise<boolean>;
	incr(key: string): Promise<number>;
	expire(key: string, ttlSeconds: number): Promise<void>;
	/** Seconds left, -1 without expiry, -2 when the key is absent (as Redis TTL). */
	ttl(key: string): Promise<number>;
	del(...keys: string[]): Promise<void>;

	/** ZADD of several members at once. */
	zadd(key: string, entries: Array<[score: number, member: string]>): Promise<void>;
	zrem(key: string, ...members: string[]): Promise<void>;
	/** Members with min <= score <= max, lowest score first. */
	zrangeByScore(key: string, min: number, max: number): Promise<string[]>;
	/** The same query on several keys in one round trip. */
	zrangeByScoreMany(keys: string[], min: number, max: number): Promise<string[][]>;
	zremRangeByScore(key: string, min: number, max: number): Promise<void>;
	/** Keeps only the `keep` highest-scored members. */
	ztrimToNewest(key: string, keep: number): Promise<void>;
	/** The lowest score, or null for an empty set. */
	zminScore(key: string): Promise<number | null>;

	sadd(key: string, ...members: string[]): Promise<void>;
	srem(key: string, ...members: string[]): Promise<void>;
	smembers(key: string): Promise<string[]>;

	/**
	 * GETSET with an expiry, in one transaction with the ID of the server instance that ran it
	 * (Redis's run_id, new at every start): a value read back after a restart from a snapshot is
	 * told apart from the same value before it. The in-memory store's ID is new with each process.
	 */
	replaceAndIdentify(
		key: string,
		value: string,
		ttlSeconds: number
	): Promise<{ previous: string | null; serverId: string }>;

	/**
	 * Spends `cost` from a GCRA bucket (lib/rate-limit.ts `decide`), atomically; the key expires
	 * when the bucket is full again. Clocks: Redis's own time, so every node of a cluster agrees.
	 */
	rateLimit(key: string, rate: Rate, cost?: number): Promise<{ allowed: boolean; retryAfterMs: number }>;

	/**
	 * Counts one attempt on every counter at once (lib/backoff.ts), or on none when one of them
	 * still makes the attempt wait. A counted key expires `memoryMs` after the wait it now imposes.
	 */
	countAttempt(counters: BackoffCounter[]): Promise<AttemptDecision>;
	/** Takes one counted attempt back from each key that still holds some. */
	uncountAttempt(...keys: string[]): Promise<void>;

	close(): Promise<void>;
}
