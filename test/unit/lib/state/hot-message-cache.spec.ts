import { HotMessageCache, HotQuery } from "../../../../lib/state/hot-message-cache";
import { MemoryStateStore } from "../../../../lib/state/memory-state-store";
import type { Message } from "../../../../lib/types";

const message = (seq: number): Message => ({
	id: String(1000 + seq), conversationId: "c", senderId: "1", type: "text", content: `m${seq}`, seq, clientMsgId: `k${seq}`, createdAt: new Date(0).toISOString()
});

/** What the database would answer for the same query over `all`. */
function reference(all: Message[], { beforeSeq, afterSeq, limit }: HotQuery) {
	const inRange = all.filter(m => (afterSeq === undefined || m.seq > afterSeq) && (beforeSeq === undefined || m.seq < beforeSeq));
	if (afterSeq !== undefined) return { messages: inRange.slice(0, limit), hasMore: inRange.length > limit };
	return { messages: inRange.slice(-limit), hasMore: inRange.length > limit };
}

describe("HotMessageCache", () => {
	test("a cold conversation is a miss until filled", async () => {
		const cache = new HotMessageCache(new MemoryStateStore(), 5);
		expect(await cache.read("c", { limit: 3 })).toBeNull();
		expect([cache.hits, cache.misses]).toEqual([0, 1]);
	});

	test("answers exactly what the database would inside its window, and declines outside it", async () => {
		const cache = new HotMessageCache(new MemoryStateStore(), 5);
		const all = Array.from({ length: 8 }, (_, i) => message(i + 1));
		await cache.fill("c", all.slice(0, 6).reverse().slice(0, 5));
		for (const m of all.slice(6)) await cache.add(m);
		// The window now holds seq 4..8.
		const queries: HotQuery[] = [
			{ limit: 3 }, { limit: 5 }, { limit: 6 }, { afterSeq: 3, limit: 10 }, { afterSeq: 5, limit: 2 }, { afterSeq: 2, limit: 2 },
			{ beforeSeq: 8, limit: 2 }, { beforeSeq: 6, limit: 3 }, { beforeSeq: 4, limit: 1 }, { afterSeq: 8, limit: 5 }
		];
		for (const query of queries) {
			const answer = await cache.read("c", query);
			if (answer) expect({ query, answer }).toEqual({ query, answer: reference(all, query) });
		}
		expect(await cache.read("c", { limit: 3 })).toEqual(reference(all, { limit: 3 }));
		expect(await cache.read("c", { afterSeq: 2, limit: 2 })).toBeNull();
		expect(await cache.read("c", { beforeSeq: 6, limit: 3 })).toBeNull();
	});

	test("a short conversation is complete in the cache, down to its first message", async () => {
		const cache = new HotMessageCache(new MemoryStateStore(), 300);
		const all = [message(1), message(2)];
		await cache.fill("c", [...all].reverse());
		expect(await cache.read("c", { limit: 50 })).toEqual({ messages: all, hasMore: false });
		expect(await cache.read("c", { afterSeq: 0, limit: 1 })).toEqual({ messages: [all[0]], hasMore: true });
		expect(cache.hits).toBe(2);
	});

	test("keeps only the newest messages as new ones arrive", async () => {
		const store = new MemoryStateStore();
		const cache = new HotMessageCache(store, 3);
		await cache.fill("c", []);
		for (let seq = 1; seq <= 10; seq++) await cache.add(message(seq));
		expect(await cache.read("c", { afterSeq: 7, limit: 10 })).toEqual({ messages: [message(8), message(9), message(10)], hasMore: false });
		expect(await cache.read("c", { afterSeq: 6, limit: 10 })).toBeNull();
		expect(await store.zrangeByScore("hot:c", -Infinity, Infinity)).toHaveLength(3);
	});

	test("size 0 turns it off", async () => {
		const cache = new HotMessageCache(new MemoryStateStore(), 0);
		await cache.fill("c", [message(1)]);
		await cache.add(message(2));
		expect(await cache.read("c", { limit: 1 })).toBeNull();
	});
});

describe("HotMessageCache for a new conversation", () => {
	test("is warm from its first message on, with no fill", async () => {
		const cache = new HotMessageCache(new MemoryStateStore(), 300);
		await cache.add(message(1));
		await cache.add(message(2));
		expect(await cache.isWarm("c")).toBe(true);
		expect(await cache.read("c", { limit: 10 })).toEqual({ messages: [message(1), message(2)], hasMore: false });
	});
});
