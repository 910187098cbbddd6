import { messageBytes, PageBudget } from "../../../../lib/page-budget";
import type { Message } from "../../../../lib/types";
import type { ListMessagesParams } from "../../../../lib/contracts/repo";
import { collectSyncPage, SyncLimits, SyncPage, SyncSources } from "../../../../services/logic/sync-page";

/** A user's conversations as repo would serve them: IDs in order, messages with gap-free seqs. */
function world(sizes: Record<string, number[]>) {
	const ids = Object.keys(sizes).sort();
	const messagesOf = new Map(
		ids.map(id => [
			id,
			sizes[id].map((bytes, i): Message => ({
				id: `${id}-${i + 1}`,
				conversationId: id,
				senderId: "1",
				type: "text",
				content: "x".repeat(bytes),
				seq: i + 1,
				clientMsgId: `k${i}`,
				createdAt: new Date(0).toISOString()
			}))
		])
	);
	const reads: Array<{ afterId: string; limit: number }> = [];
	const sources: SyncSources = {
		async conversationsAfter(afterId, limit) {
			reads.push({ afterId, limit });
			return ids
				.filter(id => id > afterId)
				.slice(0, limit)
				.map(id => ({
					conversation: {
						id,
						type: "group",
						groupId: null,
						lastSeq: messagesOf.get(id)!.length,
						lastMessageId: null,
						createdAt: "",
						updatedAt: ""
					},
					membership: { conversationId: id, userId: "1", role: "member", readSeq: 0, joinedAt: "" }
				}));
		},
		async messages({ conversationId, afterSeq, limit, maxBytes, allowEmpty }: ListMessagesParams) {
			const all = messagesOf.get(conversationId)!;
			const forward = afterSeq !== undefined;
			const range = forward ? all.filter(m => m.seq > afterSeq) : all;
			const page = forward ? range.slice(0, limit) : range.slice(-limit).reverse();
			const budget = new PageBudget(maxBytes, allowEmpty);
			const kept: Message[] = [];
			for (const m of page) {
				if (!budget.take(messageBytes(m))) break;
				kept.push(m);
			}
			return {
				messages: forward ? kept : kept.reverse(),
				hasMore: kept.length < page.length || range.length > limit,
				bytes: budget.bytes
			};
		}
	};
	return { ids, messagesOf, reads, sources };
}

const LIMITS: SyncLimits = {
	maxConversations: 50,
	maxBytes: 4000,
	maxVisited: 1000,
	perConversation: 200,
	readBatch: 250
};

/** A client that follows the recipe: lists every conversation, moves its since, follows the cursor. */
async function walk(sources: SyncSources, ids: string[], limits: SyncLimits): Promise<SyncPage[]> {
	const since: Record<string, number> = Object.fromEntries(ids.map(id => [id, 0]));
	const pages: SyncPage[] = [];
	let after = "";
	for (;;) {
		const page = await collectSyncPage(sources, since, after, limits);
		pages.push(page);
		for (const c of page.conversations)
			for (const m of c.messages) {
				expect(m.seq).toBe(since[c.conversationId] + 1);
				since[c.conversationId] = m.seq;
			}
		if (page.resumeAfter === null) return pages;
		expect(pages.length).toBeLessThan(1000);
		after = page.resumeAfter;
	}
}

const replyBytes = (page: SyncPage) =>
	Buffer.byteLength(JSON.stringify({ ok: true, conversations: page.conversations, nextCursor: "x".repeat(120) }));

describe("collectSyncPage", () => {
	test("replies stay within maxBytes, and following resumeAfter with a moving since reaches every message exactly once", async () => {
		const { ids, messagesOf, sources } = world(
			Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`group_${i}`, [300, 900, 50, 1200, 700]]))
		);
		const pages = await walk(sources, ids, LIMITS);
		for (const page of pages) expect(replyBytes(page)).toBeLessThanOrEqual(LIMITS.maxBytes);
		const received = pages.flatMap(p => p.conversations.flatMap(c => c.messages.map(m => m.id)));
		expect(received.sort()).toEqual(
			[...messagesOf.values()]
				.flat()
				.map(m => m.id)
				.sort()
		);
		expect(pages.length).toBeGreaterThan(10);
	});

	test("a listed conversation cut short ends its reply and opens the next one", async () => {
		const { ids, sources } = world({ a: [100], b: [1500, 1500, 1500], c: [100] });
		const since = { a: 0, b: 0, c: 0 };
		const first = await collectSyncPage(sources, since, "", LIMITS);
		expect(first.conversations.map(c => [c.conversationId, c.messages.length, c.hasMore])).toEqual([
			["a", 1, false],
			["b", 2, true]
		]);
		expect(first.resumeAfter).toBe("a");
		const second = await collectSyncPage(sources, { ...since, a: 1, b: 2 }, "a", LIMITS);
		expect(second.conversations.map(c => [c.conversationId, c.messages.map(m => m.seq)])).toEqual([
			["b", [3]],
			["c", [1]]
		]);
		expect(second.resumeAfter).toBeNull();
		expect(ids).toEqual(["a", "b", "c"]);
	});

	test("the first entry always carries a message, even one larger than the budget; later ones wait instead", async () => {
		const { sources } = world({ a: [9000], b: [9000] });
		const page = await collectSyncPage(sources, { a: 0, b: 0 }, "", LIMITS);
		expect(page.conversations.map(c => [c.conversationId, c.messages.length])).toEqual([["a", 1]]);
		expect(page.resumeAfter).toBe("a");
	});

	test("a conversation not listed comes with its newest messages and is not visited again", async () => {
		const { sources } = world({ a: [1000, 1000, 1000, 1000, 1000], b: [10] });
		const page = await collectSyncPage(sources, {}, "", LIMITS);
		expect(page.conversations[0].messages.map(m => m.seq)).toEqual([3, 4, 5]);
		expect(page.conversations[0].hasMore).toBe(true);
		expect(page.conversations.map(c => c.conversationId)).toEqual(["a", "b"]);
		expect(page.resumeAfter).toBeNull();
	});

	test("at most maxConversations entries; memberships are read in batches, at most maxVisited per reply", async () => {
		const { ids, reads, sources } = world(
			Object.fromEntries(
				Array.from({ length: 30 }, (_, i) => [`c${String(i).padStart(2, "0")}`, i % 3 === 0 ? [10] : []])
			)
		);
		const limits = { ...LIMITS, maxConversations: 3, maxVisited: 12, readBatch: 5 };
		const first = await collectSyncPage(sources, {}, "", limits);
		expect(first.conversations.map(c => c.conversationId)).toEqual(["c00", "c03", "c06"]);
		expect(first.resumeAfter).toBe("c06");
		const quiet = await collectSyncPage(sources, Object.fromEntries(ids.map(id => [id, 1])), "", limits);
		expect(quiet).toEqual({ conversations: [], resumeAfter: "c11" });
		expect(reads.slice(-3)).toEqual([
			{ afterId: "", limit: 5 },
			{ afterId: "c04", limit: 5 },
			{ afterId: "c09", limit: 2 }
		]);
	});
});
