import { messageBytes, PageBudget } from "../../../../lib/page-budget";
import { HotMessageCache, HotQuery } from "../../../../lib/state/hot-message-cache";
import { MemoryStateStore } from "../../../../lib/state/memory-state-store";
import type { Message } from "../../../../lib/types";

const message = (seq: number): Message => ({
	id: String(1000 + seq),
	conversationId: "c",
	senderId: "1",
	type: "text",
	content: `m${seq}`,
	seq,
	clientMsgId: `k${seq}`,
	createdAt: new Date(0).toISOString()
});
const upTo = (n: number) => Array.from({ length: n }, (_, i) => message(i + 1));

/** What the database would answer for the same query over `all`: the page, cut to its byte budget from its far end. */
function reference(all: Message[], { beforeSeq, afterSeq, limit, maxBytes = Infinity, allowEmpty }: HotQuery) {
	const inRange = all.filter(
		m => (afterSeq === undefined || m.seq > afterSeq) && (beforeSeq === undefined || m.seq < beforeSeq)
	);
	const forward = afterSeq !== undefined;
	const page = forward ? inRange.slice(0, limit) : inRange.slice(-limit).reverse();
	const budget = new PageBudget(maxBytes, allowEmpty);
	const kept: Message[] = [];
	for (const m of page) {
		if (!budget.take(messageBytes(m))) break;
		kept.push(m);
	}
	return {
		messages: forward ? kept : kept.reverse(),
		hasMore: kept.length < page.length || inRange.length > limit,
		bytes: budget.bytes
	};
}

const QUERIES: HotQuery[] = [
	{ limit: 3 },
	{ limit: 50 },
	{ afterSeq: 0, limit: 4 },
	{ afterSeq: 7, limit: 2 },
	{ afterSeq: 9, limit: 5 },
	{ afterSeq: 10, limit: 5 },
	{ beforeSeq: 9, limit: 2 },
	{ beforeSeq: 2, limit: 5 },
	{ beforeSeq: 1, limit: 5 },
	{ afterSeq: 3, beforeSeq: 7, limit: 10 },
	{ afterSeq: 20, limit: 5 },
	// A message here is about 150 bytes of JSON: these budgets cut pages short.
	{ limit: 50, maxBytes: 400 },
	{ afterSeq: 0, limit: 50, maxBytes: 400 },
	{ beforeSeq: 9, limit: 5, maxBytes: 310 },
	{ afterSeq: 2, limit: 5, maxBytes: 1 },
	{ limit: 5, maxBytes: 1, allowEmpty: true },
	{ afterSeq: 9, limit: 5, maxBytes: 1 }
];

describe("HotMessageCache", () => {
	test("a page the set holds in full matches the database, whatever the query", async () => {
		const cache = new HotMessageCache(new MemoryStateStore(), 300);
		const all = upTo(10);
		await cache.add(all);
		for (const query of QUERIES) expect(await cache.read("c", query, 10)).toEqual(reference(all, query));
		expect(cache.misses).toBe(0);
	});

	test("a byte budget keeps the oldest messages of a forward page and the newest of a backward one, at least one", async () => {
		const cache = new HotMessageCache(new MemoryStateStore(), 300);
		const all = upTo(10);
		await cache.add(all);
		const two = messageBytes(all[0]) + messageBytes(all[1]);
		const forward = await cache.read("c", { afterSeq: 0, limit: 10, maxBytes: two }, 10);
		expect(forward).toEqual({ messages: all.slice(0, 2), hasMore: true, bytes: two });
		const backward = await cache.read("c", { limit: 10, maxBytes: two + 10 }, 10);
		expect(backward?.messages.map(m => m.seq)).toEqual([9, 10]);
		expect(backward?.hasMore).toBe(true);
		expect((await cache.read("c", { limit: 10, maxBytes: 1 }, 10))?.messages.map(m => m.seq)).toEqual([10]);
		expect(await cache.read("c", { limit: 10, maxBytes: 1, allowEmpty: true }, 10)).toEqual({
			messages: [],
			hasMore: true,
			bytes: 0
		});
	});

	test("an empty conversation answers without a read", async () => {
		const cache = new HotMessageCache(new MemoryStateStore(), 300);
		expect(await cache.read("c", { limit: 10 }, 0)).toEqual({ messages: [], hasMore: false, bytes: 0 });
		expect(await cache.read("c", { afterSeq: 0, limit: 10 }, 0)).toEqual({
			messages: [],
			hasMore: false,
			bytes: 0
		});
	});

	test("a set that lost its newest messages (flushed, restored from an old snapshot) misses instead of hiding them", async () => {
		const cache = new HotMessageCache(new MemoryStateStore(), 300);
		await cache.add(upTo(6));
		// SQL says 10: seqs 7-10 were committed after the snapshot the set came from.
		expect(await cache.read("c", { limit: 5 }, 10)).toBeNull();
		expect(await cache.read("c", { afterSeq: 4, limit: 50 }, 10)).toBeNull();
		// New messages after the restore do not make the hole look complete.
		await cache.add([message(11), message(12)]);
		expect(await cache.read("c", { limit: 5 }, 12)).toBeNull();
		expect(await cache.read("c", { limit: 2 }, 12)).toEqual(reference(upTo(12), { limit: 2 }));
	});

	test("a window trimmed to the newest `size` misses below it and answers inside it", async () => {
		const cache = new HotMessageCache(new MemoryStateStore(), 5);
		const all = upTo(20);
		await cache.add(all);
		expect(await cache.read("c", { limit: 5 }, 20)).toEqual(reference(all, { limit: 5 }));
		expect(await cache.read("c", { limit: 6 }, 20)).toBeNull();
		expect(await cache.read("c", { beforeSeq: 16, limit: 3 }, 20)).toBeNull();
		expect(await cache.read("c", { afterSeq: 16, limit: 10 }, 20)).toEqual(
			reference(all, { afterSeq: 16, limit: 10 })
		);
		expect(cache.covers(20, 16)).toBe(true);
		expect(cache.covers(20, 15)).toBe(false);
	});

	test("the same message added twice is returned once", async () => {
		const cache = new HotMessageCache(new MemoryStateStore(), 300);
		await cache.add(upTo(3));
		await cache.add([message(2), message(3)]);
		expect(await cache.read("c", { limit: 10 }, 3)).toEqual(reference(upTo(3), { limit: 10 }));
	});

	test("messages of several conversations in one call go to their own sets", async () => {
		const cache = new HotMessageCache(new MemoryStateStore(), 300);
		const other = { ...message(1), id: "9", conversationId: "d" };
		await cache.add([message(1), other, message(2)]);
		expect((await cache.read("d", { limit: 10 }, 1))?.messages).toEqual([other]);
		expect((await cache.read("c", { limit: 10 }, 2))?.messages.map(m => m.seq)).toEqual([1, 2]);
	});

	test("size 0 turns the cache off", async () => {
		const cache = new HotMessageCache(new MemoryStateStore(), 0);
		await cache.add(upTo(2));
		expect(await cache.read("c", { limit: 5 }, 2)).toBeNull();
		expect(cache.enabled).toBe(false);
	});
});
