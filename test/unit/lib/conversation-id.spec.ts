import { directConversationId, groupConversationId, parseConversationId } from "../../../lib/conversation-id";

describe("conversation IDs", () => {
	test("a direct conversation is named by its users, lower ID first, compared as numbers", () => {
		expect(directConversationId("20", "3")).toBe("single_3_20");
		expect(directConversationId("3", "20")).toBe("single_3_20");
		expect(directConversationId("987654321987654321", "123")).toBe("single_123_987654321987654321");
	});

	test("parses each kind and refuses anything else", () => {
		expect(parseConversationId("single_3_20")).toEqual({ type: "direct", userIds: ["3", "20"] });
		expect(parseConversationId(groupConversationId("77"))).toEqual({ type: "group", groupId: "77" });
		expect(parseConversationId("world")).toEqual({ type: "world" });
		for (const bad of ["", "World", "single_1", "group_", "group_x", "single_1_2_3", "../world"]) {
			expect(parseConversationId(bad)).toBeNull();
		}
	});
});
