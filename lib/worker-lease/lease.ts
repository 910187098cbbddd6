import { performance } from "perf_hooks";
import { GoChatError } from "../errors";
import { MAX_WORKER_ID, SnowflakeGenerator } from "../snowflake";

/** Hands out Snowflake IDs for one broker: a fixed worker ID's generator, or a leased one. */
export interface IdSource {
	next(): string;
}

/**
 * Where worker IDs are leased (docs/architecture.md#identifiers). A lease key holds its owner
 * and expires with the TTL; beside it, a key without TTL remembers the newest millisecond any
 * holder of that ID may have minted, so the next holder never reuses a timestamp even when its
 * clock is behind the previous holder's.
 */
export interface WorkerIdStore {
	/** "Redis" or "etcd", for log lines and errors. */
	readonly where: string;
	/**
	 * Takes `workerId` if nobody holds it, and records that we may mint up to `mintUntil` (wall
	 * clock). Answers null when it is taken, else when the TTL started (monotonic ms, measured
	 * before the request that started it) and the newest millisecond earlier holders may have minted.
	 */
	tryAcquire(workerId: number, mintUntil: number): Promise<{ since: number; mintedUntil: number } | null>;
	/**
	 * Extends our hold on `workerId` and records `mintUntil`. Answers when the extended TTL
	 * started, or null when the ID is no longer ours (expired, deleted, or someone else's).
	 * Throws when the server cannot be reached: the hold may still be ours.
	 */
	renew(workerId: number, mintUntil: number): Promise<number | null>;
	/** Frees `workerId` if it is still ours, recording the last millisecond we minted. */
	release(workerId: number, mintedUntil: number): Promise<void>;
	close(): Promise<void>;
}

export interface LeaseLogger {
	info(...args: unknown[]): void;
	warn(...args: unknown[]): void;
}

export interface WorkerIdLeaseOptions {
	ttlSeconds: number;
	logger: LeaseLogger;
	/** Tests pass their own; by default Math.random, performance.now and Date.now. */
	random?: () => number;
	monotonic?: () => number;
	wall?: () => number;
}

/** Worker IDs tried before a start gives up: the whole range, visited from a random offset. */
export const LEASE_SCAN_LIMIT = Math.min(1024, MAX_WORKER_ID + 1);

/**
 * A process holding one worker ID for as long as it runs. The lease is valid until TTL after the
 * request that last extended it was sent (the server's expiry is later still), measured on the
 * monotonic clock: past that, next() refuses with WORKER_ID_LOST instead of risking an ID another
 * holder also mints. Every third of the TTL it renews, or, once the ID is lost, leases one again:
 * the same if it is free, else any free one (IDs then differ in their worker bits).
 */
export class WorkerIdLease implements IdSource {
	private workerId: number | null = null;
	/** The ID held before a loss, tried first when leasing again. */
	private previousId: number | null = null;
	private generator: SnowflakeGenerator | null = null;
	private validUntil = 0;
	/** The newest millisecond earlier holders of our ID may have minted: we release with no less. */
	private inheritedFloor = 0;
	private timer: NodeJS.Timeout | null = null;
	private tick: Promise<void> | null = null;
	private lapseReported = false;
	private stopped = false;
	private readonly ttlMs: number;
	private readonly random: () => number;
	private readonly monotonic: () => number;
	private readonly wall: () => number;

	constructor(
		private readonly store: WorkerIdStore,
		private readonly options: WorkerIdLeaseOptions
	) {
		this.ttlMs = options.ttlSeconds * 1000;
		this.random = options.random ?? Math.random;
		this.monotonic = options.monotonic ?? (() => performance.now());
		this.wall = options.wall ?? Date.now;
	}

	/** The worker ID held now, or null while none is. */
	get heldWorkerId(): number | null {
		return this.valid() ? this.workerId : null;
	}

	/** Seconds a refused caller should wait: the next renewal or re-lease attempt. */
	get retryAfterSeconds(): number {
		return Math.max(1, Math.ceil(this.ttlMs / 3000));
	}

	/** Leases a worker ID (the start waits for it) and keeps renewing it. */
	async start(): Promise<number> {
		let workerId: number | null;
		try {
			workerId = await this.lease();
		} catch (err) {
			throw new Error(
				`Could not lease a Snowflake worker ID from ${this.store.where}: ${(err as Error).message} (or set WORKER_ID)`
			);
		}
		if (workerId === null) {
			throw new Error(
				`No free Snowflake worker ID in ${this.store.where}: all ${LEASE_SCAN_LIMIT} tried are leased ` +
					"(more processes than worker IDs, or stale leases that expire within WORKER_LEASE_TTL); set WORKER_ID to bypass leasing"
			);
		}
		this.options.logger.info(
			`Leased Snowflake worker ID ${workerId} from ${this.store.where}, TTL ${this.options.ttlSeconds} s`
		);
		this.timer = setInterval(() => {
			this.renewNow().catch(err =>
				this.options.logger.warn(`Snowflake worker ID renewal failed: ${(err as Error).message}`)
			);
		}, this.ttlMs / 3);
		this.timer.unref();
		return workerId;
	}

	next(): string {
		if (!this.generator || !this.valid()) {
			throw new GoChatError(
				"WORKER_ID_LOST",
				`This node lost its Snowflake worker ID lease in ${this.store.where} and creates nothing until it leases one again; retry shortly`,
				{ retryAfter: this.retryAfterSeconds }
			);
		}
		return this.generator.next();
	}

	/** One renewal (or re-lease, once the ID is lost); the timer calls it, tests may too. Never overlaps itself. */
	renewNow(): Promise<void> {
		if (this.stopped) return Promise.resolve();
		this.tick ??= this.renewOrLeaseAgain().finally(() => {
			this.tick = null;
		});
		return this.tick;
	}

	/** Stops renewing and frees the ID for the next process (it would expire by itself within the TTL). */
	async stop(): Promise<void> {
		this.stopped = true;
		if (this.timer) clearInterval(this.timer);
		await this.tick;
		const workerId = this.workerId;
		this.workerId = null;
		this.validUntil = 0;
		try {
			if (workerId !== null) await this.store.release(workerId, this.mintedUntil());
		} catch (err) {
			this.options.logger.warn(
				`Could not release Snowflake worker ID ${workerId} in ${this.store.where} (${(err as Error).message}); it frees itself within ${this.options.ttlSeconds} s`
			);
		} finally {
			await this.store.close();
		}
	}

	private valid(): boolean {
		return this.workerId !== null && this.monotonic() < this.validUntil;
	}

	private mintedUntil(): number {
		return Math.max(this.generator?.lastMintedAt ?? 0, this.inheritedFloor);
	}

	private async renewOrLeaseAgain(): Promise<void> {
		if (this.workerId === null) {
			await this.leaseAgain();
			return;
		}
		const workerId = this.workerId;
		let since: number | null;
		try {
			since = await this.store.renew(workerId, this.wall() + this.ttlMs);
		} catch (err) {
			if (!this.valid() && !this.lapseReported) {
				this.lapseReported = true;
				this.options.logger.warn(
					`Could not renew Snowflake worker ID ${workerId} in ${this.store.where} within its TTL (${(err as Error).message}); no IDs are created until it is renewed`
				);
			}
			return;
		}
		if (this.stopped) return;
		if (since !== null) {
			this.holdUntil(since);
			return;
		}
		this.options.logger.warn(
			`Lost Snowflake worker ID ${workerId} in ${this.store.where} (it expired or another process took it); no IDs are created until one is leased again`
		);
		this.previousId = workerId;
		this.workerId = null;
		this.validUntil = 0;
		await this.leaseAgain();
	}

	private async leaseAgain(): Promise<void> {
		let workerId: number | null;
		try {
			workerId = await this.lease(this.previousId);
		} catch (err) {
			this.options.logger.warn(
				`Could not lease a Snowflake worker ID in ${this.store.where}: ${(err as Error).message}`
			);
			return;
		}
		if (workerId === null) {
			this.options.logger.warn(`No free Snowflake worker ID in ${this.store.where}; trying again shortly`);
			return;
		}
		this.options.logger.info(
			`Leased Snowflake worker ID ${workerId} from ${this.store.where} again; creating IDs resumes`
		);
	}

	/** Tries `preferred` first, then up to LEASE_SCAN_LIMIT IDs from a random offset; null when all are taken. */
	private async lease(preferred: number | null = null): Promise<number | null> {
		const start = Math.floor(this.random() * (MAX_WORKER_ID + 1));
		const candidates = Array.from({ length: LEASE_SCAN_LIMIT }, (_, i) => (start + i) % (MAX_WORKER_ID + 1));
		if (preferred !== null) candidates.unshift(preferred);
		for (const candidate of candidates) {
			if (this.stopped) return null;
			const taken = await this.store.tryAcquire(candidate, this.wall() + this.ttlMs);
			if (!taken) continue;
			// An earlier holder's clock ran ahead of ours: wait until ours passes what it may have minted.
			const wait = taken.mintedUntil - this.wall() + 1;
			if (wait > this.ttlMs / 3) {
				this.options.logger.warn(
					`Snowflake worker ID ${candidate} was used up to ${wait} ms ahead of this clock; leaving it and trying another`
				);
				await this.store.release(candidate, taken.mintedUntil);
				continue;
			}
			if (wait > 0) await new Promise(resolve => setTimeout(resolve, wait));
			this.take(candidate, taken);
			return candidate;
		}
		return null;
	}

	private take(workerId: number, { since, mintedUntil }: { since: number; mintedUntil: number }) {
		if (this.generator?.workerId !== workerId) {
			this.generator = new SnowflakeGenerator(workerId, this.wall, drift =>
				this.options.logger.warn(`Clock went back ${drift} ms; Snowflake IDs continue from the last timestamp`)
			);
		}
		// The wait above is a timer's; this is the guarantee.
		this.generator.startAfter(mintedUntil);
		this.workerId = workerId;
		this.inheritedFloor = mintedUntil;
		this.holdUntil(since);
	}

	private holdUntil(since: number) {
		this.validUntil = since + this.ttlMs;
		if (this.lapseReported) {
			this.lapseReported = false;
			this.options.logger.info(
				`Renewed Snowflake worker ID ${this.workerId} in ${this.store.where}; creating IDs resumes`
			);
		}
	}
}
