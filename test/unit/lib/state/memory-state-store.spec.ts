import { MemoryStateStore } from "../../../../lib/state/memory-state-store";

/** What the embedded store does beyond the Redis contract: it sweeps, and it bounds the hot cache. */
describe("MemoryStateStore", () => {
	let now: number;
	const clock = () => now;

	beforeEach(() => {
		now = 1_000_000;
	});

	describe("expiry", () => {
		test("expired keys nobody reads again are gone after a sweep", async () => {
			const store = new MemoryStateStore({ now: clock, sweepIntervalMs: 0, evictablePrefix: "hot:" });
			for (let i = 0; i < 100; i++) await store.set(`dedup:u:${i}`, "m", 60);
			await store.zadd("hot:c", [[1, "message"]]);
			await store.expire("hot:c", 60);
			await store.zadd("presence:user:1", [[now + 600_000, "node-a"]]);
			await store.expire("presence:user:1", 600);
			await store.set("seq:c", "7");
			expect(store.size).toBe(103);

			now += 60_000;
			expect(store.sweepExpired()).toBe(101);
			expect(store.size).toBe(2);
			expect(store.evictableBytes).toBe(0);
			expect(await store.get("seq:c")).toBe("7");
			expect(await store.zrangeByScore("presence:user:1", now, Infinity)).toEqual(["node-a"]);
			await store.close();
		});

		test("the timer sweeps a bounded chunk per event-loop turn, and close() stops it", async () => {
			jest.useFakeTimers();
			try {
				const store = new MemoryStateStore({ now: clock, sweepIntervalMs: 10_000 });
				for (let i = 0; i < 2500; i++) await store.set(`dedup:u:${i}`, "m", 30);
				await store.set("seq:c", "1");
				now += 30_000;

				jest.advanceTimersToNextTimer();
				expect(store.size).toBe(1501);
				jest.advanceTimersToNextTimer();
				expect(store.size).toBe(501);
				jest.advanceTimersToNextTimer();
				expect(store.size).toBe(1);

				await store.close();
				expect(jest.getTimerCount()).toBe(0);
			} finally {
				jest.useRealTimers();
			}
		});
	});

	describe("hot cache eviction", () => {
		const message = (conversation: number, seq: number) =>
			JSON.stringify({ conversation, seq: String(seq).padStart(3, "0"), content: "x".repeat(80) });
		const write = (store: MemoryStateStore, conversation: number) =>
			store.zadd(
				`hot:${conversation}`,
				Array.from({ length: 10 }, (_, seq) => [seq, message(conversation, seq)] as [number, string])
			);
		/** What one conversation of ten messages costs, measured on an unbounded store. */
		async function conversationBytes() {
			const store = new MemoryStateStore({ evictablePrefix: "hot:", sweepIntervalMs: 0 });
			await write(store, 0);
			const bytes = store.evictableBytes;
			await store.close();
			return bytes;
		}

		test("keeps the hot cache under its cap by dropping the least recently used conversations", async () => {
			const cap = 3.5 * (await conversationBytes());
			const store = new MemoryStateStore({
				now: clock,
				evictablePrefix: "hot:",
				maxEvictableBytes: cap,
				sweepIntervalMs: 0
			});
			for (const c of [0, 1, 2]) await write(store, c);
			expect(await store.zrangeByScore("hot:0", 0, 0)).toEqual([message(0, 0)]);

			await write(store, 3);
			expect(await store.zrangeByScore("hot:1", -Infinity, Infinity)).toEqual([]);
			expect(await store.zrangeByScore("hot:0", -Infinity, Infinity)).toHaveLength(10);
			expect(await store.zrangeByScore("hot:2", -Infinity, Infinity)).toHaveLength(10);

			for (let c = 4; c < 200; c++) {
				await write(store, c);
				await store.zrangeByScore("hot:0", 5, 5);
				expect(store.evictableBytes).toBeLessThanOrEqual(cap);
			}
			expect(await store.zrangeByScore("hot:0", -Infinity, Infinity)).toHaveLength(10);
			expect(await store.zrangeByScore("hot:199", -Infinity, Infinity)).toHaveLength(10);
			expect(await store.zrangeByScore("hot:100", -Infinity, Infinity)).toEqual([]);
			expect(store.size).toBe(3);
			await store.close();
		});

		test("never evicts presence, sequences, floors or login limits, however large", async () => {
			const store = new MemoryStateStore({
				now: clock,
				evictablePrefix: "hot:",
				maxEvictableBytes: 5000,
				sweepIntervalMs: 0
			});
			const users = Array.from({ length: 10_000 }, (_, i) => `user-${i}`);
			await store.sadd("presence:node:a", ...users);
			await store.zadd("presence:user:1", [[now + 60_000, "a"]]);
			await store.set("seq:c", "41");
			await store.set("hot-floor:c", "1");
			await store.incr("login:alice");
			expect(store.evictableBytes).toBe(0);

			for (let c = 0; c < 50; c++) await write(store, c);
			expect(store.evictableBytes).toBeLessThanOrEqual(5000);
			expect(await store.smembers("presence:node:a")).toHaveLength(10_000);
			expect(await store.zrangeByScore("presence:user:1", now, Infinity)).toEqual(["a"]);
			expect([await store.get("seq:c"), await store.get("hot-floor:c"), await store.get("login:alice")]).toEqual([
				"41",
				"1",
				"1"
			]);
			await store.close();
		});

		test("the bytes it counts follow every write and are zero once the keys are gone", async () => {
			const store = new MemoryStateStore({ now: clock, evictablePrefix: "hot:", sweepIntervalMs: 0 });
			await write(store, 1);
			const one = store.evictableBytes;
			await write(store, 1);
			expect(store.evictableBytes).toBe(one);
			await store.zadd("hot:1", [
				[10, message(1, 10)],
				[11, message(1, 11)]
			]);
			await store.ztrimToNewest("hot:1", 10);
			expect(store.evictableBytes).toBe(one);
			await store.zremRangeByScore("hot:1", 0, 4);
			await store.zrem("hot:1", message(1, 5), "not a member");
			expect(await store.zrangeByScore("hot:1", -Infinity, Infinity)).toHaveLength(6);
			expect(store.evictableBytes).toBeLessThan(one);
			await store.del("hot:1");
			expect(store.evictableBytes).toBe(0);

			await store.set("hot:s", "y".repeat(100));
			const string = store.evictableBytes;
			await store.set("hot:s", "x".repeat(100), 10);
			expect(store.evictableBytes).toBe(string);
			await store.sadd("hot:set", "a", "b");
			await store.srem("hot:set", "a", "b");
			expect(store.evictableBytes).toBeGreaterThan(200);
			now += 10_000;
			expect(await store.get("hot:s")).toBeNull();
			expect(store.evictableBytes).toBe(0);
			await store.close();
		});
	});

	describe("large sets", () => {
		test("the lowest score of a set too large to spread into arguments", async () => {
			const store = new MemoryStateStore({ sweepIntervalMs: 0 });
			await store.zadd(
				"z",
				Array.from({ length: 300_000 }, (_, i) => [300_000 - i, `m${i}`] as [number, string])
			);
			expect(await store.zminScore("z")).toBe(1);
			await store.close();
		});

		test("trimming one member at a time from a 10,000-member set keeps the newest", async () => {
			const store = new MemoryStateStore({ sweepIntervalMs: 0 });
			await store.zadd(
				"z",
				Array.from({ length: 10_000 }, (_, i) => [i, `m${i}`] as [number, string])
			);
			for (let i = 10_000; i < 12_000; i++) {
				await store.zadd("z", [[i, `m${i}`]]);
				await store.ztrimToNewest("z", 10_000);
			}
			expect(await store.zminScore("z")).toBe(2000);
			expect(await store.zrangeByScore("z", -Infinity, 2000)).toEqual(["m2000"]);
			await store.close();
		});
	});
});
