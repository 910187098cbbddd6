import { GoChatError, toHttpError } from "../../../lib/errors";
import { MAX_WORKER_ID, parseSnowflake } from "../../../lib/snowflake";
import { LEASE_SCAN_LIMIT, WorkerIdLease, WorkerIdStore } from "../../../lib/worker-lease/lease";

/** A lease server in memory, on a clock the test moves: what Redis or etcd would hold. */
class MemoryServer {
	now = 1000;
	down = false;
	readonly leases = new Map<number, { owner: string; expiresAt: number }>();
	readonly minted = new Map<number, number>();

	holder(workerId: number): string | null {
		const lease = this.leases.get(workerId);
		return lease && lease.expiresAt > this.now ? lease.owner : null;
	}

	store(owner: string, ttlMs: number): WorkerIdStore & { closed: boolean } {
		const check = () => {
			if (this.down) throw new Error("connect ECONNREFUSED");
		};
		return {
			where: "memory",
			closed: false,
			tryAcquire: async (workerId, mintUntil) => {
				check();
				if (this.holder(workerId) !== null) return null;
				this.leases.set(workerId, { owner, expiresAt: this.now + ttlMs });
				const mintedUntil = this.minted.get(workerId) ?? 0;
				this.minted.set(workerId, Math.max(mintedUntil, mintUntil));
				return { since: this.now, mintedUntil };
			},
			renew: async (workerId, mintUntil) => {
				check();
				if (this.holder(workerId) !== owner) return null;
				this.leases.set(workerId, { owner, expiresAt: this.now + ttlMs });
				this.minted.set(workerId, Math.max(this.minted.get(workerId) ?? 0, mintUntil));
				return this.now;
			},
			release: async (workerId, mintedUntil) => {
				check();
				if (this.holder(workerId) !== owner) return;
				this.leases.delete(workerId);
				this.minted.set(workerId, mintedUntil);
			},
			async close() {
				this.closed = true;
			}
		};
	}
}

const TTL_SECONDS = 15;

function quietLogger() {
	return { info: jest.fn(), warn: jest.fn() };
}

/** A wall clock that moves with the server's, from a real date (Snowflake timestamps start in 2026). */
function wallOf(server: MemoryServer): () => number {
	const base = Date.now();
	return () => base + server.now;
}

function leaseOn(server: MemoryServer, owner: string, options: { random?: number; wall?: () => number } = {}) {
	const logger = quietLogger();
	const store = server.store(owner, TTL_SECONDS * 1000);
	const lease = new WorkerIdLease(store, {
		ttlSeconds: TTL_SECONDS,
		logger,
		random: () => options.random ?? 0,
		monotonic: () => server.now,
		wall: options.wall ?? wallOf(server)
	});
	return { lease, logger, store };
}

function expectWorkerIdLost(act: () => unknown) {
	let thrown: unknown;
	try {
		act();
	} catch (err) {
		thrown = err;
	}
	expect(thrown).toBeInstanceOf(GoChatError);
	expect(toHttpError(thrown)).toEqual({
		status: 503,
		body: {
			error: {
				code: "WORKER_ID_LOST",
				message: expect.stringMatching(/lost its Snowflake worker ID/),
				details: { retryAfter: 5 }
			}
		}
	});
}

describe("WorkerIdLease", () => {
	const running: WorkerIdLease[] = [];
	afterEach(async () => {
		await Promise.all(running.splice(0).map(lease => lease.stop()));
	});

	function started(server: MemoryServer, owner: string, options?: Parameters<typeof leaseOn>[2]) {
		const made = leaseOn(server, owner, options);
		running.push(made.lease);
		return made;
	}

	test("processes on one server lease distinct IDs, from a random offset, and say which", async () => {
		const server = new MemoryServer();
		const a = started(server, "a", { random: 0.5 });
		const b = started(server, "b", { random: 0.5 });
		const first = await a.lease.start();
		const second = await b.lease.start();
		expect(first).toBe(Math.floor(0.5 * (MAX_WORKER_ID + 1)));
		expect(second).toBe(first + 1);
		expect(parseSnowflake(a.lease.next()).workerId).toBe(first);
		expect(parseSnowflake(b.lease.next()).workerId).toBe(second);
		expect(a.logger.info).toHaveBeenCalledWith(`Leased Snowflake worker ID ${first} from memory, TTL 15 s`);
	});

	test("the scan wraps around past the highest ID", async () => {
		const server = new MemoryServer();
		server.leases.set(MAX_WORKER_ID, { owner: "other", expiresAt: Infinity });
		const { lease } = started(server, "a", { random: 0.99999 });
		expect(await lease.start()).toBe(0);
	});

	test("the start fails, saying so, when every ID is leased", async () => {
		const server = new MemoryServer();
		for (let id = 0; id <= MAX_WORKER_ID; id++) server.leases.set(id, { owner: "other", expiresAt: Infinity });
		const { lease } = started(server, "a");
		await expect(lease.start()).rejects.toThrow(
			`No free Snowflake worker ID in memory: all ${LEASE_SCAN_LIMIT} tried are leased`
		);
	});

	test("the start fails, naming the server, when it cannot be reached", async () => {
		const server = new MemoryServer();
		server.down = true;
		const { lease } = started(server, "a");
		await expect(lease.start()).rejects.toThrow(
			"Could not lease a Snowflake worker ID from memory: connect ECONNREFUSED (or set WORKER_ID)"
		);
	});

	test("renewals keep the ID; a renewal failing past the TTL stops minting until one succeeds again", async () => {
		const server = new MemoryServer();
		const { lease, logger } = started(server, "a");
		const workerId = await lease.start();
		for (let i = 0; i < 6; i++) {
			server.now += 5000;
			await lease.renewNow();
		}
		expect(parseSnowflake(lease.next()).workerId).toBe(workerId);

		server.down = true;
		server.now += 5000;
		await lease.renewNow();
		expect(lease.next()).toMatch(/^\d+$/); // still inside the TTL of the last renewal
		server.now += 9999;
		await lease.renewNow();
		expect(lease.next()).toMatch(/^\d+$/);
		server.now += 1;
		await lease.renewNow();
		expectWorkerIdLost(() => lease.next());
		expect(logger.warn).toHaveBeenCalledWith(
			expect.stringMatching(/Could not renew Snowflake worker ID .* within its TTL/)
		);

		// The key outlived the outage (the server kept it): renewing it again is safe, minting resumes.
		server.leases.set(workerId, { owner: "a", expiresAt: Infinity });
		server.down = false;
		await lease.renewNow();
		expect(parseSnowflake(lease.next()).workerId).toBe(workerId);
	});

	test("an ID taken by another process stops minting at once and a free ID is leased again", async () => {
		const server = new MemoryServer();
		const { lease, logger } = started(server, "a");
		const workerId = await lease.start();
		const before = lease.next();

		// Every ID is someone else's now, ours included: the re-lease finds none and minting stays stopped.
		for (let id = 0; id <= MAX_WORKER_ID; id++) server.leases.set(id, { owner: "intruder", expiresAt: Infinity });
		await lease.renewNow();
		expectWorkerIdLost(() => lease.next());
		expect(logger.warn).toHaveBeenCalledWith(
			`Lost Snowflake worker ID ${workerId} in memory (it expired or another process took it); no IDs are created until one is leased again`
		);

		expect(logger.warn).toHaveBeenCalledWith("No free Snowflake worker ID in memory; trying again shortly");
		server.leases.delete(700);
		await lease.renewNow();
		const after = lease.next();
		expect(parseSnowflake(after).workerId).toBe(700);
		expect(parseSnowflake(before).workerId).toBe(workerId);
		expect(lease.heldWorkerId).toBe(parseSnowflake(after).workerId);
	});

	test("an expired ID that is still free is leased again with the same number", async () => {
		const server = new MemoryServer();
		const { lease } = started(server, "a");
		const workerId = await lease.start();
		server.now += TTL_SECONDS * 1000 + 1;
		expectWorkerIdLost(() => lease.next());
		await lease.renewNow();
		expect(parseSnowflake(lease.next()).workerId).toBe(workerId);
	});

	test("stop releases the ID for the next process", async () => {
		const server = new MemoryServer();
		const { lease, store } = started(server, "a");
		const workerId = await lease.start();
		lease.next();
		await lease.stop();
		expect(server.holder(workerId)).toBeNull();
		expect(store.closed).toBe(true);
		expectWorkerIdLost(() => lease.next());
		const { lease: next } = started(server, "b");
		expect(await next.start()).toBe(workerId);
	});

	test("the next holder of an ID whose clock is behind waits until it passes the last millisecond minted", async () => {
		const server = new MemoryServer();
		const { lease: first } = started(server, "a", { wall: Date.now });
		const workerId = await first.start();
		const last = parseSnowflake(first.next()).timestamp;
		await first.stop();

		const behind = 60;
		const { lease: second } = started(server, "b", { wall: () => Date.now() - behind });
		expect(await second.start()).toBe(workerId);
		expect(parseSnowflake(second.next()).timestamp).toBeGreaterThan(last);
	});

	test("the next holder never mints in the previous holder's last millisecond, even when its clock reads exactly that", async () => {
		const server = new MemoryServer();
		let wall = Date.now();
		const { lease: first } = started(server, "a", { wall: () => wall });
		const workerId = await first.start();
		const last = parseSnowflake(first.next()).timestamp;
		await first.stop();

		// The next holder's clock stands on that millisecond (its wait's timer fired a millisecond early, say).
		const { lease: second } = started(server, "b", { wall: () => wall });
		expect(await second.start()).toBe(workerId);
		const minted = parseSnowflake(second.next());
		expect([minted.workerId, minted.timestamp]).toEqual([workerId, last + 1]);
		wall += 10;
		expect(parseSnowflake(second.next()).timestamp).toBe(wall);
	});
});
