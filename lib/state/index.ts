import type { Config } from "../config";
import { HOT_CACHE_PREFIX } from "./hot-message-cache";
import { MemoryStateStore } from "./memory-state-store";
import { RedisStateStore } from "./redis-state-store";
import type { StateStore } from "./state-store";

export type { StateStore } from "./state-store";

const open = new Map<string, { store: StateStore; users: number }>();

/**
 * The process's state store: Redis when REDIS_URL is set, otherwise one in-memory store that
 * every service of the process shares, as they would share one Redis.
 */
export function acquireStateStore(config: Pick<Config, "redisUrl" | "redisPrefix" | "hotCacheMaxMb">): StateStore {
	const key = config.redisUrl ? `${config.redisUrl}#${config.redisPrefix}` : "memory";
	let entry = open.get(key);
	if (!entry) {
		const store = config.redisUrl
			? new RedisStateStore(config.redisUrl, config.redisPrefix)
			: new MemoryStateStore({
					evictablePrefix: HOT_CACHE_PREFIX,
					maxEvictableBytes: config.hotCacheMaxMb * 1024 * 1024
				});
		entry = { store, users: 0 };
		open.set(key, entry);
	}
	entry.users++;
	return entry.store;
}

/** Closes the store when the last service using it stops. */
export async function releaseStateStore(store: StateStore): Promise<void> {
	for (const [key, entry] of open) {
		if (entry.store !== store) continue;
		if (--entry.users > 0) return;
		open.delete(key);
		await store.close();
		return;
	}
}
