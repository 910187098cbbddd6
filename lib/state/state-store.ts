/**
 * The small key-value surface GoChat keeps outside the database (sequences, login limits),
 * shaped on Redis commands so the in-memory store and a Redis store are interchangeable.
 */
export interface StateStore {
	get(key: string): Promise<string | null>;
	/** SET with an optional expiry in seconds. */
	set(key: string, value: string, ttlSeconds?: number): Promise<void>;
	/** SET NX: true when the key was absent and is now set. */
	setNx(key: string, value: string): Promise<boolean>;
	incr(key: string): Promise<number>;
	expire(key: string, ttlSeconds: number): Promise<void>;
	/** Seconds left, -1 without expiry, -2 when the key is absent (as Redis TTL). */
	ttl(key: string): Promise<number>;
	del(key: string): Promise<void>;
}

interface Entry {
	value: string;
	expiresAt: number | null;
}

/** The embedded default: one map per process, expiry checked on read. */
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

	async get(key: string) {
		return this.live(key)?.value ?? null;
	}

	async set(key: string, value: string, ttlSeconds?: number) {
		this.entries.set(key, { value, expiresAt: ttlSeconds ? this.now() + ttlSeconds * 1000 : null });
	}

	async setNx(key: string, value: string) {
		if (this.live(key)) return false;
		this.entries.set(key, { value, expiresAt: null });
		return true;
	}

	async incr(key: string) {
		const entry = this.live(key);
		const next = (entry ? Number(entry.value) : 0) + 1;
		if (!Number.isSafeInteger(next)) throw new Error(`value at ${key} is not an integer`);
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

	async del(key: string) {
		this.entries.delete(key);
	}
}

let shared: MemoryStateStore | undefined;

/** Services in one process share one in-memory store, as they would share one Redis. */
export function sharedMemoryStateStore(): MemoryStateStore {
	if (!shared) shared = new MemoryStateStore();
	return shared;
}
