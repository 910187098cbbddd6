import { MemberRoleCache } from "../../../lib/member-role-cache";

describe("MemberRoleCache", () => {
	test("remembers a role until the conversation's members change", () => {
		const cache = new MemberRoleCache();
		cache.set("c1", "u1", "member");
		cache.set("c2", "u1", "owner");
		expect(cache.get("c1", "u1")).toBe("member");
		cache.forgetConversation("c1");
		expect(cache.get("c1", "u1")).toBeUndefined();
		expect(cache.get("c2", "u1")).toBe("owner");
	});

	test("a role read before a membership change is not remembered after it", () => {
		const cache = new MemberRoleCache();
		const before = cache.generation;
		cache.forgetConversation("c1");
		cache.set("c1", "u1", "member", before);
		expect(cache.get("c1", "u1")).toBeUndefined();
	});

	test("entries expire, and past the cap the least recently used goes", () => {
		let now = 0;
		const cache = new MemberRoleCache(2, 1000, () => now);
		cache.set("c1", "u1", "member");
		cache.set("c2", "u1", "member");
		cache.get("c1", "u1");
		cache.set("c3", "u1", "member");
		expect([cache.get("c1", "u1"), cache.get("c2", "u1"), cache.get("c3", "u1")]).toEqual([
			"member",
			undefined,
			"member"
		]);
		now = 1000;
		expect(cache.get("c1", "u1")).toBeUndefined();
		expect(cache.size).toBe(1);
	});
});
