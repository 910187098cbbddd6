import { ConversationMembersCache } from "../../../lib/conversation-members-cache";

describe("ConversationMembersCache", () => {
	test("remembers members (or 'too many') until they change", () => {
		const cache = new ConversationMembersCache();
		cache.set("group_1", ["a", "b"], cache.generation);
		cache.set("group_2", null, cache.generation);
		expect([cache.get("group_1"), cache.get("group_2"), cache.get("group_3")]).toEqual([
			["a", "b"],
			null,
			undefined
		]);
		cache.forget("group_1");
		expect(cache.get("group_1")).toBeUndefined();
	});

	test("a list read before a change is not remembered after it", () => {
		const cache = new ConversationMembersCache();
		const before = cache.generation;
		cache.forget("group_1");
		cache.set("group_1", ["a"], before);
		expect(cache.get("group_1")).toBeUndefined();
	});

	test("expiry and the least-recently-used cap", () => {
		let now = 0;
		const cache = new ConversationMembersCache(2, 1000, () => now);
		cache.set("g1", ["a"], 0);
		cache.set("g2", ["b"], 0);
		cache.get("g1");
		cache.set("g3", ["c"], 0);
		expect([cache.get("g1"), cache.get("g2"), cache.get("g3")]).toEqual([["a"], undefined, ["c"]]);
		now = 1000;
		expect(cache.get("g3")).toBeUndefined();
	});
});
