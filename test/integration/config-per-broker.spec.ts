import { startGoChat, RunningGoChat } from "../helpers/gochat";
import { Api, register } from "../helpers/http";

/** Two GoChats in one process, each with its own settings: nothing is read from a process-wide config. */
describe("config per broker", () => {
	let small: RunningGoChat;
	let large: RunningGoChat;

	beforeAll(async () => {
		[small, large] = await Promise.all([
			startGoChat({ MESSAGE_MAX_BYTES: "100", GROUP_MAX_MEMBERS: "3" }),
			startGoChat({ MESSAGE_MAX_BYTES: "1000" })
		]);
	});
	afterAll(() => Promise.all([small?.stop(), large?.stop()]));

	async function directChat(gochat: RunningGoChat) {
		const api = new Api(gochat.baseUrl);
		const [alice, bob] = [await register(api, "alice"), await register(api, "bob")];
		const opened = await alice.api.post("/api/v1/conversations/direct", { userId: bob.user.id });
		expect(opened.status).toBe(201);
		return { alice, bob, conversationId: opened.body.conversation.id as string };
	}

	test("each broker enforces its own MESSAGE_MAX_BYTES side by side", async () => {
		const [onSmall, onLarge] = await Promise.all([directChat(small), directChat(large)]);
		const content = "x".repeat(500);
		const send = (chat: typeof onSmall) =>
			chat.alice.api.post(`/api/v1/conversations/${chat.conversationId}/messages`, {
				clientMsgId: "c1",
				type: "text",
				content
			});
		const [refused, stored] = await Promise.all([send(onSmall), send(onLarge)]);
		expect(refused.status).toBe(413);
		expect(refused.body.error).toMatchObject({ code: "MESSAGE_TOO_LARGE", details: { maxBytes: 100 } });
		expect(stored.status).toBe(200);
		expect(stored.body.message.content).toBe(content);
	});

	test("each broker keeps its own group size limit", async () => {
		const api = new Api(small.baseUrl);
		const owner = await register(api, "owner");
		const others = [await register(api, "m1"), await register(api, "m2"), await register(api, "m3")];
		const created = await owner.api.post("/api/v1/groups", {
			name: "small",
			memberIds: others.map(o => o.user.id)
		});
		expect(created.status).toBe(409);
		expect(created.body.error.code).toBe("GROUP_FULL");
		expect(small.config.groupMaxMembers).toBe(3);
		expect(large.config.groupMaxMembers).toBe(10000);
	});
});
