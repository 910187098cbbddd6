import type { ServiceSchema } from "moleculer";
import type { NewMessage } from "../../../../lib/db/message-writer";
import { toHttpError } from "../../../../lib/errors";
import type { Conversation, Message } from "../../../../lib/types";
import MessagesService from "../../../../services/logic/messages.service";
import { MockedService, startWithMocks } from "../../../helpers/mock-broker";

const DIRECT = "single_1_2";
const conversation: Conversation = {
	id: DIRECT,
	type: "direct",
	groupId: null,
	lastSeq: 0,
	lastMessageId: null,
	createdAt: "",
	updatedAt: ""
};

const stored = (m: NewMessage, seq = 1): Message => ({ ...m, seq, createdAt: "2026-01-01T00:00:00.000Z" });
const codeOf = (err: unknown) => toHttpError(err).body.error.code;

describe("messages (logic, with repo and delivery mocked)", () => {
	let svc: MockedService;
	const appended = new Map<string, Message>();

	beforeEach(async () => {
		appended.clear();
		svc = await startWithMocks(
			MessagesService as ServiceSchema,
			{
				"repo.members.role": ({ userId }) => (userId === "1" || userId === "2" ? "member" : null),
				"repo.conversations.get": ({ id }) => (id === DIRECT ? conversation : null),
				"repo.messages.append": m => {
					const key = `${m.senderId}|${m.clientMsgId}`;
					const original = appended.get(key);
					if (original) return { message: original, duplicate: true };
					const message = stored(m, appended.size + 1);
					appended.set(key, message);
					return { message, duplicate: false };
				},
				"delivery.message": () => ({ queued: false })
			},
			{ env: { MESSAGE_MAX_BYTES: "10" } }
		);
	});
	afterEach(() => svc.stop());

	const send = (userId: string, clientMsgId: string, content = "hi", type = "text") =>
		svc.call("messages.send", { conversationId: DIRECT, clientMsgId, type: type as "text", content }, { userId });

	test("a member's send is stored once, delivered once, and counted as accepted; its resend is neither", async () => {
		const { message } = await send("1", "c-1");
		expect(message).toMatchObject({
			conversationId: DIRECT,
			senderId: "1",
			type: "text",
			content: "hi",
			clientMsgId: "c-1"
		});
		expect((await send("1", "c-1")).message).toEqual(message);
		await new Promise(resolve => setImmediate(resolve));
		expect(svc.callsTo("delivery.message")).toEqual([{ message, exceptSocketId: undefined }]);
		expect(await svc.call("messages.stats", {})).toMatchObject({ accepted: 1, refused: 0 });
	});

	test("a non-member's send is refused as CONVERSATION_NOT_FOUND, stores nothing and counts as refused", async () => {
		await expect(send("3", "c-1").catch(codeOf)).resolves.toBe("CONVERSATION_NOT_FOUND");
		expect(svc.callsTo("repo.messages.append")).toEqual([]);
		expect(await svc.call("messages.stats", {})).toMatchObject({ accepted: 0, refused: 1 });
	});

	test("content over MESSAGE_MAX_BYTES (in UTF-8 bytes) is refused as MESSAGE_TOO_LARGE before any repo call", async () => {
		await expect(send("1", "c-1", "ééééé é").catch(codeOf)).resolves.toBe("MESSAGE_TOO_LARGE");
		expect(svc.calls.map(c => c.action)).toEqual(["messages.send"]);
		expect((await svc.call("messages.stats", {})).refused).toBe(1);
	});

	test("clients cannot send a system message", async () => {
		await expect(send("1", "c-1", "hi", "system").catch(codeOf)).resolves.toBe("INVALID_INPUT");
		expect(svc.callsTo("repo.messages.append")).toEqual([]);
	});

	test("stats gives the node, the counts since start and their rate per second over the last seconds", async () => {
		await send("1", "a");
		await send("2", "b");
		await send("3", "c").catch(() => undefined);
		const stats = await svc.call("messages.stats", {});
		expect(stats).toEqual({
			nodeId: svc.broker.nodeID,
			accepted: 2,
			refused: 1,
			acceptedPerSecond: expect.any(Number),
			refusedPerSecond: expect.any(Number)
		});
		expect(stats.acceptedPerSecond).toBeGreaterThan(0);
		expect(stats.acceptedPerSecond).toBe(stats.refusedPerSecond * 2);
	});

	test("say stores a system message from sender 0 with a generated clientMsgId and delivers it like any other", async () => {
		const message = await svc.call("messages.say", { conversationId: DIRECT, text: "upgrade" });
		expect(message).toMatchObject({ conversationId: DIRECT, senderId: "0", type: "system", content: "upgrade" });
		expect(message.clientMsgId).toMatch(/^system-\d+$/);
		await svc.call("messages.say", { conversationId: DIRECT, text: "again" });
		const [first, second] = svc.callsTo("repo.messages.append");
		expect(first.clientMsgId).not.toBe(second.clientMsgId);
		await new Promise(resolve => setImmediate(resolve));
		expect(svc.callsTo("delivery.message")[0]).toEqual({ message, exceptSocketId: undefined });
		expect((await svc.call("messages.stats", {})).accepted).toBe(0);
	});

	test("say in a conversation that does not exist is refused and stores nothing", async () => {
		await expect(svc.call("messages.say", { conversationId: "group_9", text: "x" }).catch(codeOf)).resolves.toBe(
			"CONVERSATION_NOT_FOUND"
		);
		expect(svc.callsTo("repo.messages.append")).toEqual([]);
	});
});
