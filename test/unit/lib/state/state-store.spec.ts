import crypto from "crypto";
import { MemoryStateStore } from "../../../../lib/state/memory-state-store";
import { RedisStateStore } from "../../../../lib/state/redis-state-store";
import type { StateStore } from "../../../../lib/state/state-store";
import { serverSuite } from "../../../helpers/servers";

/**
 * One contract, two stores: the in-memory store must answer as Redis does. The Redis half runs
 * against TEST_REDIS_URL, or the machine's Redis on 127.0.0.1:6379, under a prefix of its own.
 */
describe("memory state store", () => stateStoreContract(() => new MemoryStateStore()));

serverSuite("redis", "redis state store", redis =>
	stateStoreContract(() => new RedisStateStore(redis.url, `gochat-unit-${crypto.randomBytes(4).toString("hex")}:`))
);

function stateStoreContract(make: () => StateStore): void {
	let store: StateStore;

	beforeAll(() => {
		store = make();
	});
	afterAll(async () => {
		if (store instanceof RedisStateStore) {
			// KEYS patterns and results carry the full key; commands add the prefix themselves.
			const { redis, prefix } = store;
			const keys = await redis.keys(`${prefix}*`);
			if (keys.length) await redis.del(...keys.map(k => k.slice(prefix.length)));
		}
		await store.close();
	});

	test("strings: get, set, setNx, incr, del", async () => {
		expect(await store.get("s:a")).toBeNull();
		await store.set("s:a", "1");
		expect(await store.get("s:a")).toBe("1");
		expect(await store.setNx("s:a", "2")).toBe(false);
		expect(await store.setNx("s:b", "5")).toBe(true);
		expect(await store.incr("s:b")).toBe(6);
		expect(await store.incr("s:new")).toBe(1);
		await store.del("s:a", "s:b", "s:new");
		expect(await store.get("s:b")).toBeNull();
	});

	test("ttl reports expiry like Redis", async () => {
		expect(await store.ttl("t:none")).toBe(-2);
		await store.set("t:forever", "x");
		expect(await store.ttl("t:forever")).toBe(-1);
		await store.set("t:soon", "x", 100);
		expect(await store.ttl("t:soon")).toBeGreaterThan(98);
		await store.setNx("t:nx", "x", 50);
		expect(await store.ttl("t:nx")).toBeGreaterThan(48);
		await store.expire("t:forever", 10);
		expect(await store.ttl("t:forever")).toBeGreaterThan(8);
		await store.del("t:forever", "t:soon", "t:nx");
	});

	test("sorted sets: add, range by score, trim to newest, min, remove", async () => {
		await store.zadd("z:a", [
			[3, "c"],
			[1, "a"],
			[2, "b"],
			[5, "e"]
		]);
		expect(await store.zrangeByScore("z:a", 2, Infinity)).toEqual(["b", "c", "e"]);
		expect(await store.zrangeByScore("z:a", -Infinity, 2)).toEqual(["a", "b"]);
		expect(await store.zrangeByScoreMany(["z:a", "z:none"], 3, 3)).toEqual([["c"], []]);
		expect(await store.zminScore("z:a")).toBe(1);
		await store.ztrimToNewest("z:a", 2);
		expect(await store.zrangeByScore("z:a", -Infinity, Infinity)).toEqual(["c", "e"]);
		await store.zadd("z:a", [[10, "c"]]);
		expect(await store.zrangeByScore("z:a", -Infinity, Infinity)).toEqual(["e", "c"]);
		await store.zremRangeByScore("z:a", 0, 5);
		expect(await store.zrangeByScore("z:a", -Infinity, Infinity)).toEqual(["c"]);
		await store.zrem("z:a", "c");
		expect(await store.zminScore("z:a")).toBeNull();
		expect(await store.ttl("z:a")).toBe(-2);
	});

	test("sorted sets: equal scores are ranked by member, in ranges and trims alike", async () => {
		await store.zadd("z:tie", [
			[1, "b"],
			[1, "c"],
			[1, "a"],
			[0, "z"]
		]);
		expect(await store.zrangeByScore("z:tie", -Infinity, Infinity)).toEqual(["z", "a", "b", "c"]);
		await store.ztrimToNewest("z:tie", 3);
		expect(await store.zrangeByScore("z:tie", -Infinity, Infinity)).toEqual(["a", "b", "c"]);
		await store.ztrimToNewest("z:tie", 2);
		expect(await store.zrangeByScore("z:tie", -Infinity, Infinity)).toEqual(["b", "c"]);
		await store.ztrimToNewest("z:tie", 0);
		expect(await store.ttl("z:tie")).toBe(-2);
	});

	test("sets: add, members, remove; an emptied set is gone", async () => {
		await store.sadd("set:a", "x", "y", "x");
		expect((await store.smembers("set:a")).sort()).toEqual(["x", "y"]);
		await store.srem("set:a", "x", "y");
		expect(await store.smembers("set:a")).toEqual([]);
		expect(await store.ttl("set:a")).toBe(-2);
	});

	test("replaceAndIdentify: the previous value, with the same server ID while the server lives", async () => {
		const first = await store.replaceAndIdentify("mark:a", "1", 60);
		const second = await store.replaceAndIdentify("mark:a", "2", 60);
		expect([first.previous, second.previous]).toEqual([null, "1"]);
		expect(second.serverId).toBe(first.serverId);
		expect(await store.ttl("mark:a")).toBeGreaterThan(0);
	});

	test("rateLimit: a burst of `count`, then refused with the wait until one more fits; the key expires", async () => {
		const rate = { count: 3, periodMs: 60_000 };
		const decisions = [];
		for (let i = 0; i < 4; i++) decisions.push(await store.rateLimit("rl:a", rate));
		expect(decisions.map(d => d.allowed)).toEqual([true, true, true, false]);
		// One more fits 20 s (60 s / 3) after the first.
		expect(decisions[3].retryAfterMs).toBeGreaterThan(19_000);
		expect(decisions[3].retryAfterMs).toBeLessThanOrEqual(20_000);
		expect((await store.rateLimit("rl:b", rate, 3)).allowed).toBe(true);
		expect((await store.rateLimit("rl:b", rate)).allowed).toBe(false);
		expect(await store.ttl("rl:a")).toBeGreaterThan(58);
		expect(await store.ttl("rl:a")).toBeLessThanOrEqual(60);
		await store.del("rl:a", "rl:b");
	});

	test("rateLimit is atomic: of 30 concurrent takes, exactly the burst passes", async () => {
		const decisions = await Promise.all(
			Array.from({ length: 30 }, () => store.rateLimit("rl:race", { count: 5, periodMs: 60_000 }))
		);
		expect(decisions.filter(d => d.allowed)).toHaveLength(5);
		await store.del("rl:race");
	});

	const counter = (key: string, free: number) => ({ key, free, baseMs: 1000, maxMs: 4000, memoryMs: 60_000 });

	test("countAttempt: free attempts, then refused by the counter that waits longest, counting nothing", async () => {
		const counters = [counter("att:pair", 2), counter("att:user", 10)];
		expect(await store.countAttempt(counters)).toEqual({ allowed: true, retryAfterMs: 0, refusedBy: -1 });
		expect((await store.countAttempt(counters)).allowed).toBe(true);
		const refused = await store.countAttempt(counters);
		expect(refused).toMatchObject({ allowed: false, refusedBy: 0 });
		// Most of the 1 s window is left (the round trips to Redis take the rest).
		expect(refused.retryAfterMs).toBeGreaterThan(500);
		expect(refused.retryAfterMs).toBeLessThanOrEqual(1000);
		// The refused attempt counted nowhere: a counter at 2 of 3 on its own still passes.
		expect((await store.countAttempt([counter("att:user", 3)])).allowed).toBe(true);
		expect((await store.countAttempt([counter("att:user", 3)])).allowed).toBe(false);
		expect(await store.ttl("att:pair")).toBeGreaterThan(58);
		await store.del("att:pair", "att:user");
	});

	test("uncountAttempt takes one back, keeps the expiry, and drops the key at zero", async () => {
		const pair = counter("att:undo", 1);
		await store.countAttempt([pair]);
		await store.countAttempt([{ ...pair, free: 5 }]);
		expect((await store.countAttempt([pair])).allowed).toBe(false);
		await store.uncountAttempt("att:undo", "att:absent");
		expect(await store.ttl("att:undo")).toBeGreaterThan(58);
		await store.uncountAttempt("att:undo");
		expect(await store.ttl("att:undo")).toBe(-2);
		expect(await store.ttl("att:absent")).toBe(-2);
		expect((await store.countAttempt([pair])).allowed).toBe(true);
		await store.del("att:undo");
	});

	test("countAttempt is atomic: of 60 concurrent attempts, exactly the free ones are counted", async () => {
		const decisions = await Promise.all(
			Array.from({ length: 60 }, () =>
				store.countAttempt([counter("att:race", 5), counter("att:race-user", 100)])
			)
		);
		expect(decisions.filter(d => d.allowed)).toHaveLength(5);
		await store.del("att:race", "att:race-user");
	});
}
