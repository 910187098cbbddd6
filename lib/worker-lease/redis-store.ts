import { performance } from "perf_hooks";
import Redis from "ioredis";
import type { WorkerIdStore } from "./lease";

/** KEYS: lease, minted-until. ARGV: owner, TTL ms, minting bound. Answers the earlier bound, or -1 when taken. */
const ACQUIRE = `
if not redis.call("SET", KEYS[1], ARGV[1], "NX", "PX", ARGV[2]) then return -1 end
local minted = tonumber(redis.call("GET", KEYS[2]) or "0")
if tonumber(ARGV[3]) > minted then redis.call("SET", KEYS[2], ARGV[3]) end
return minted`;

/** Compare-and-pexpire: extends the lease only while it holds our owner. */
const RENEW = `
if redis.call("GET", KEYS[1]) ~= ARGV[1] then return 0 end
redis.call("PEXPIRE", KEYS[1], ARGV[2])
if tonumber(ARGV[3]) > tonumber(redis.call("GET", KEYS[2]) or "0") then redis.call("SET", KEYS[2], ARGV[3]) end
return 1`;

/** Compare-and-delete, leaving the exact last millisecond minted for the next holder. */
const RELEASE = `
if redis.call("GET", KEYS[1]) ~= ARGV[1] then return 0 end
redis.call("DEL", KEYS[1])
redis.call("SET", KEYS[2], ARGV[2])
return 1`;

interface Scripts {
	gochatLeaseAcquire(lease: string, minted: string, owner: string, ttlMs: number, mintUntil: number): Promise<number>;
	gochatLeaseRenew(lease: string, minted: string, owner: string, ttlMs: number, mintUntil: number): Promise<number>;
	gochatLeaseRelease(lease: string, minted: string, owner: string, mintedUntil: number): Promise<number>;
}

/**
 * Worker ID leases in Redis under the deployment's key prefix: `<prefix>workers:<id>` holds the
 * owner with a PX expiry, `<prefix>workers:<id>:minted` the minting bound. Single commands and Lua
 * scripts, so each step is atomic on the server.
 */
export class RedisWorkerIdStore implements WorkerIdStore {
	readonly where = "Redis";
	private readonly redis: Redis;

	constructor(
		url: string,
		prefix: string,
		private readonly owner: string,
		private readonly ttlMs: number
	) {
		// Connected by the first command, so a broker built and never started opens nothing.
		this.redis = new Redis(url, { keyPrefix: prefix, maxRetriesPerRequest: 2, lazyConnect: true });
		// ioredis reconnects by itself; renewals meanwhile fail and the lease reports its lapse.
		this.redis.on("error", () => undefined);
		this.redis.defineCommand("gochatLeaseAcquire", { numberOfKeys: 2, lua: ACQUIRE });
		this.redis.defineCommand("gochatLeaseRenew", { numberOfKeys: 2, lua: RENEW });
		this.redis.defineCommand("gochatLeaseRelease", { numberOfKeys: 2, lua: RELEASE });
	}

	private get scripts(): Scripts {
		return this.redis as unknown as Scripts;
	}

	async tryAcquire(workerId: number, mintUntil: number) {
		const since = performance.now();
		const minted = await this.scripts.gochatLeaseAcquire(
			leaseKey(workerId),
			mintedKey(workerId),
			this.owner,
			this.ttlMs,
			mintUntil
		);
		return minted < 0 ? null : { since, mintedUntil: minted };
	}

	async renew(workerId: number, mintUntil: number) {
		const since = performance.now();
		const renewed = await this.scripts.gochatLeaseRenew(
			leaseKey(workerId),
			mintedKey(workerId),
			this.owner,
			this.ttlMs,
			mintUntil
		);
		return renewed === 1 ? since : null;
	}

	async release(workerId: number, mintedUntil: number) {
		await this.scripts.gochatLeaseRelease(leaseKey(workerId), mintedKey(workerId), this.owner, mintedUntil);
	}

	async close() {
		if (this.redis.status === "wait") this.redis.disconnect();
		else await this.redis.quit().catch(() => this.redis.disconnect());
	}
}

/** The key holding worker ID `workerId`'s owner (after the prefix); tests read and overwrite it. */
export function leaseKey(workerId: number): string {
	return `workers:${workerId}`;
}

function mintedKey(workerId: number): string {
	return `workers:${workerId}:minted`;
}
