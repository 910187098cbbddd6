import type { StateStore } from "./state-store";

type Value = string | Map<string, number> | Set<string>;

interface Entry {
	value: Value;
	expiresAt: number | null;
}

/** The embedded default: one map per process, expiry checked on access. */
export class MemoryStateStore implements StateStore {
	private readonly entries = new Map<string, Entry>();

	constructor(private readonly now: () => number = Date.now) {}

	private live(key: string): Entry | undefined {
		const entry = this.entries.get(key);
		if (entry && entry.expiresAt !== null && entry.expiresAt <= this.now()) {
			this.entries.delete(key);
			return undefined;
		}
		return entry;
	}

	private string(key: string): string | null {
		const value = this.live(key)?.value;
		if (value === undefined) return null;
		if (typeof value !== "string") throw new Error(`WRONGTYPE ${key} does not hold a string`);
		return value;
	}

	private sorted(key: string, create: boolean): Map<string, number> | undefined {
		const entry = this.live(key);
		if (!entry) {
			if (!create) return undefined;
			const value = new Map<string, number>();
			this.entries.set(key, { value, expiresAt: null });
			return value;
		}
		if (!(entry.value instanceof Map)) throw new Error(`WRONGTYPE ${key} does not hold a sorted set`);
		return entry.value;
	}

	private set_(key: string, create: boolean): Set<string> | undefined {
		const entry = this.live(key);
		if (!entry) {
			if (!create) return undefined;
			const value = new Set<string>();
			this.entries.set(key, { value, expiresAt: null });
			return value;
		}
		if (!(entry.value instanceof Set)) throw new Error(`WRONGTYPE ${key} does not hold a set`);
		return entry.value;
	}

	/** Redis deletes a collection when its last member goes; so do we. */
	private dropIfEmpty(key: string, value: Map<string, number> | Set<string> | undefined) {
		if (value && value.size === 0) this.entries.delete(key);
	}

	async get(key: string) {
		return this.string(key);
	}

	async set(key: string, value: string, ttlSeconds?: number) {
		this.entries.set(key, { value, expiresAt: ttlSeconds ? this.now() + ttlSeconds * 1000 : null });
	}

	async setNx(key: string, value: string, ttlSeconds?: number) {
		if (this.live(key)) return false;
		this.entries.set(key, { value, expiresAt: ttlSeconds ? this.now() + ttlSeconds * 1000 : null });
		return true;
	}

	async incr(key: string) {
		const current = this.string(key);
		const next = (current === null ? 0 : Number(current)) + 1;
		if (!Number.isSafeInteger(next)) throw new Error(`ERR value at ${key} is not an integer`);
		const entry = this.live(key);
		this.entries.set(key, { value: String(next), expiresAt: entry?.expiresAt ?? null });
		return next;
	}

	async expire(key: string, ttlSeconds: number) {
		const entry = this.live(key);
		if (entry) entry.expiresAt = this.now() + ttlSeconds * 1000;
	}

	async ttl(key: string) {
		const entry = this.live(key);
		if (!entry) return -2;
		if (entry.expiresAt === null) return -1;
		return Math.ceil((entry.expiresAt - this.now()) / 1000);
	}

	async del(...keys: string[]) {
		for (const key of keys) this.entries.delete(key);
	}

	async zadd(key: string, entries: Array<[number, string]>) {
		if (entries.length === 0) return;
		const zset = this.sorted(key, true)!;
		for (const [score, member] of entries) zset.set(member, score);
	}

	async zrem(key: string, ...members: string[]) {
		const zset = this.sorted(key, false);
		for (const member of members) zset?.delete(member);
		this.dropIfEmpty(key, zset);
	}

	async zrangeByScore(key: string, min: number, max: number) {
		const zset = this.sorted(key, false);
		if (!zset) return [];
		return [...zset.entries()]
			.filter(([, score]) => score >= min && score <= max)
			.sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1))
			.map(([member]) => member);
	}

	async zrangeByScoreMany(keys: string[], min: number, max: number) {
		return Promise.all(keys.map(key => this.zrangeByScore(key, min, max)));
	}

	async zremRangeByScore(key: string, min: number, max: number) {
		const zset = this.sorted(key, false);
		if (!zset) return;
		for (const [member, score] of zset) if (score >= min && score <= max) zset.delete(member);
		this.dropIfEmpty(key, zset);
	}

	async ztrimToNewest(key: string, keep: number) {
		const zset = this.sorted(key, false);
		if (!zset || zset.size <= keep) return;
		const doomed = [...zset.entries()].sort((a, b) => a[1] - b[1]).slice(0, zset.size - keep);
		for (const [member] of doomed) zset.delete(member);
		this.dropIfEmpty(key, zset);
	}

	async zminScore(key: string) {
		const zset = this.sorted(key, false);
		if (!zset || zset.size === 0) return null;
		return Math.min(...zset.values());
	}

	async sadd(key: string, ...members: string[]) {
		const set = this.set_(key, true)!;
		for (const member of members) set.add(member);
	}

	async srem(key: string, ...members: string[]) {
		const set = this.set_(key, false);
		for (const member of members) set?.delete(member);
		this.dropIfEmpty(key, set);
	}

	async smembers(key: string) {
		return [...(this.set_(key, false) ?? [])];
	}

	async close() {
		this.entries.clear();
	}
}
