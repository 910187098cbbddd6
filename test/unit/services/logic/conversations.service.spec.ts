import type { ServiceSchema } from "moleculer";
import { toHttpError } from "../../../../lib/errors";
import type { Conversation, Membership } from "../../../../lib/types";
import ConversationsService from "../../../../services/logic/conversations.service";
import { MockedService, startWithMocks } from "../../../helpers/mock-broker";

const DIRECT = "single_1_2";
const conversation: Conversation = {
	id: DIRECT,
	type: "direct",
	groupId: null,
	lastSeq: 9,
	lastMessageId: null,
	createdAt: "",
	updatedAt: ""
};
const membership = (userId: string, readSeq = 2): Membership => ({
	conversationId: DIRECT,
	userId,
	role: "member",
	readSeq,
	joinedAt: ""
});
const codeOf = (err: unknown) => toHttpError(err).body.error.code;

describe("conversations (logic, with repo and delivery mocked)", () => {
	let svc: MockedService;

	beforeEach(async () => {
		svc = await startWithMocks(ConversationsService as ServiceSchema, {
			"repo.users.get": ({ id }) =>
				id === "2"
					? { id, username: "bob", displayName: "Bob", avatarUrl: null, isGuest: false, createdAt: "" }
					: null,
			"repo.users.getMany": () => [
				{ id: "2", username: "bob", displayName: "Bob", avatarUrl: null, isGuest: false, createdAt: "" }
			],
			"repo.groups.getMany": () => [],
			"repo.messages.getMany": () => [],
			"repo.members.ensureDirect": () => ({ conversation, created: true }),
			"repo.members.role": ({ userId }) => (userId === "1" || userId === "2" ? "member" : null),
			"repo.members.get": ({ userId }) => membership(userId),
			"repo.conversations.get": () => conversation,
			"repo.members.markRead": ({ seq }) => seq,
			"delivery.toUsers": ({ userIds }) => ({ nodes: 1, recipients: userIds.length, failedNodes: 0 }),
			"delivery.toMembers": () => ({ nodes: 1, recipients: 1, failedNodes: 0 })
		});
	});
	afterEach(() => svc.stop());

	test("opening a 1:1 goes through repo.members, which owns memberships, and titles it with the peer's name", async () => {
		const { conversation: summary, created } = await svc.call(
			"conversations.openDirect",
			{ userId: "2" },
			{ userId: "1" }
		);
		expect(created).toBe(true);
		expect(summary).toMatchObject({ id: DIRECT, title: "Bob", unreadCount: 7 });
		expect(svc.callsTo("repo.members.ensureDirect")).toEqual([{ id: DIRECT, userIds: ["1", "2"] }]);
	});

	test("a 1:1 with oneself or an unknown user is refused before anything is written", async () => {
		await expect(
			svc.call("conversations.openDirect", { userId: "1" }, { userId: "1" }).catch(codeOf)
		).resolves.toBe("INVALID_INPUT");
		await expect(
			svc.call("conversations.openDirect", { userId: "5" }, { userId: "1" }).catch(codeOf)
		).resolves.toBe("USER_NOT_FOUND");
		expect(svc.callsTo("repo.members.ensureDirect")).toEqual([]);
	});

	test("marking as read stops at the last message and tells the caller's other devices", async () => {
		const state = await svc.call(
			"conversations.markRead",
			{ conversationId: DIRECT, seq: 50 },
			{ userId: "1", socketId: "s1" }
		);
		expect(state).toEqual({ conversationId: DIRECT, readSeq: 9, lastSeq: 9, unreadCount: 0 });
		expect(svc.callsTo("repo.members.markRead")).toEqual([{ conversationId: DIRECT, userId: "1", seq: 9 }]);
		await new Promise(resolve => setImmediate(resolve));
		expect(svc.callsTo("delivery.toUsers")).toEqual([
			{
				userIds: ["1"],
				event: "conversation:read",
				payload: { conversationId: DIRECT, seq: 9 },
				exceptSocketId: "s1"
			}
		]);
	});

	test("a non-member cannot mark as read nor type: 404, nothing written or pushed", async () => {
		await expect(
			svc.call("conversations.markRead", { conversationId: DIRECT, seq: 1 }, { userId: "3" }).catch(codeOf)
		).resolves.toBe("CONVERSATION_NOT_FOUND");
		await expect(
			svc.call("conversations.typing", { conversationId: DIRECT }, { userId: "3" }).catch(codeOf)
		).resolves.toBe("CONVERSATION_NOT_FOUND");
		expect(svc.callsTo("repo.members.markRead")).toEqual([]);
		expect(svc.callsTo("delivery.toMembers")).toEqual([]);
	});

	test("typing leaves who hears it to delivery's inline rule, the typist left out", async () => {
		expect(await svc.call("conversations.typing", { conversationId: DIRECT }, { userId: "1" })).toEqual({
			notified: 1
		});
		expect(svc.callsTo("delivery.toMembers")).toEqual([
			{
				conversationId: DIRECT,
				event: "typing",
				payload: { conversationId: DIRECT, userId: "1" },
				exceptUserId: "1"
			}
		]);
	});
});
