import type { Socket } from "socket.io-client";
import { startGoChat, RunningGoChat } from "../helpers/gochat";
import { Account, Api, Reply, register } from "../helpers/http";
import { closeAll, connect, emitAck } from "../helpers/sockets";

/**
 * No existence oracle: whoever is not in a conversation or group gets the very same answer
 * (status, code, message) for one that exists as for one that does not, on every route and
 * socket event that names one. So IDs cannot be probed for 1:1s between other people or for groups.
 */
describe("a stranger cannot tell existing conversations and groups from missing ones", () => {
	let gochat: RunningGoChat;
	let api: Api;
	let alice: Account;
	let bob: Account;
	let carol: Account;
	let stranger: Account;
	let direct: string;
	let group: { id: string; conversationId: string };
	/** Well-formed IDs of things that do not exist. */
	let missingDirect: string;
	const missingGroupId = "99999999999999999";
	const sockets: Socket[] = [];

	const answer = (res: Reply) => ({ status: res.status, body: res.body });

	beforeAll(async () => {
		gochat = await startGoChat();
		api = new Api(gochat.baseUrl);
		[alice, bob, carol, stranger] = [
			await register(api, "alice"),
			await register(api, "bob"),
			await register(api, "carol"),
			await register(api, "stranger")
		];
		direct = (await alice.api.post("/api/v1/conversations/direct", { userId: bob.user.id })).body.conversation.id;
		// carol and bob never opened a 1:1: its ID is well-formed but names nothing.
		const [low, high] = [bob.user.id, carol.user.id].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));
		missingDirect = `single_${low}_${high}`;
		group = (await alice.api.post("/api/v1/groups", { name: "Secret club", memberIds: [bob.user.id] })).body.group;
		await alice.api.post(`/api/v1/conversations/${direct}/messages`, {
			clientMsgId: "o-1",
			type: "text",
			content: "psst"
		});
		await alice.api.post(`/api/v1/conversations/${group.conversationId}/messages`, {
			clientMsgId: "o-2",
			type: "text",
			content: "psst"
		});
	});
	afterEach(() => closeAll(sockets.splice(0)));
	afterAll(() => gochat.stop());

	const conversationRoutes: Array<[string, string, (id: string) => string, unknown]> = [
		["history", "GET", id => `/api/v1/conversations/${id}/messages`, undefined],
		[
			"send",
			"POST",
			id => `/api/v1/conversations/${id}/messages`,
			{ clientMsgId: "probe", type: "text", content: "hello?" }
		],
		["mark read", "POST", id => `/api/v1/conversations/${id}/read`, { seq: 1 }]
	];

	test.each(conversationRoutes)(
		"REST %s: a 1:1, a group conversation, a missing one and garbage all answer 404 CONVERSATION_NOT_FOUND alike",
		async (_name, method, path, body) => {
			const replies = [];
			for (const id of [direct, group.conversationId, missingDirect, `group_${missingGroupId}`, "nope"]) {
				replies.push(answer(await stranger.api.request(method, path(id), body)));
			}
			for (const reply of replies) {
				expect(reply).toEqual({
					status: 404,
					body: {
						error: {
							code: "CONVERSATION_NOT_FOUND",
							message: "No such conversation, or you are not a member"
						}
					}
				});
			}
			const history = await alice.api.get(`/api/v1/conversations/${direct}/messages`);
			expect(history.body.messages.map((m: { content: string }) => m.content)).toEqual(["psst"]);
		}
	);

	test.each([
		[
			"message:send",
			(id: string) => ({ conversationId: id, clientMsgId: "probe-socket", type: "text", content: "hello?" })
		],
		["conversation:read", (id: string) => ({ conversationId: id, seq: 1 })],
		["typing", (id: string) => ({ conversationId: id })]
	])("socket %s: the acks for an existing and a missing conversation are the same", async (event, payload) => {
		const socket = await connect(gochat.baseUrl, stranger.accessToken);
		sockets.push(socket);
		const acks = [];
		for (const id of [direct, group.conversationId, missingDirect, `group_${missingGroupId}`])
			acks.push(await emitAck(socket, event, payload(id)));
		for (const ack of acks) expect(ack).toEqual(acks[acks.length - 1]);
		expect(acks[0]).toMatchObject({ ok: false, error: { code: "CONVERSATION_NOT_FOUND" } });
	});

	test("sync names only the caller's own conversations, whatever IDs it is given", async () => {
		const socket = await connect(gochat.baseUrl, stranger.accessToken);
		sockets.push(socket);
		const ack = await emitAck(socket, "sync", {
			since: { [direct]: 0, [group.conversationId]: 0, [missingDirect]: 0 }
		});
		expect(ack.ok).toBe(true);
		const named = ack.conversations.map((c: { conversationId: string }) => c.conversationId);
		expect(named).not.toContain(direct);
		expect(named).not.toContain(group.conversationId);
		expect(named).not.toContain(missingDirect);
	});

	const groupRoutes: Array<[string, string, (id: string) => string, unknown]> = [
		["get", "GET", id => `/api/v1/groups/${id}`, undefined],
		["members", "GET", id => `/api/v1/groups/${id}/members`, undefined],
		["addMembers", "POST", id => `/api/v1/groups/${id}/members`, { userIds: ["1"] }],
		["removeMember", "DELETE", id => `/api/v1/groups/${id}/members/1`, undefined],
		["setRole", "PATCH", id => `/api/v1/groups/${id}/members/1`, { role: "admin" }],
		["leave", "POST", id => `/api/v1/groups/${id}/leave`, {}]
	];

	test.each(groupRoutes)(
		"group %s: an existing group and a missing one answer 404 GROUP_NOT_FOUND alike",
		async (_name, method, path, body) => {
			const existing = answer(await stranger.api.request(method, path(group.id), body));
			const missing = answer(await stranger.api.request(method, path(missingGroupId), body));
			expect(existing).toEqual({
				status: 404,
				body: { error: { code: "GROUP_NOT_FOUND", message: "No such group, or you are not a member" } }
			});
			expect(missing).toEqual(existing);
			const members = await alice.api.get(`/api/v1/groups/${group.id}/members`);
			expect(members.body.members.map((m: { userId: string }) => m.userId).sort()).toEqual(
				[alice.user.id, bob.user.id].sort()
			);
		}
	);

	test("blocking: an existing group one is not in and a missing one answer alike", async () => {
		const existing = answer(await stranger.api.post(`/api/v1/groups/${group.id}/block`));
		const missing = answer(await stranger.api.post(`/api/v1/groups/${missingGroupId}/block`));
		expect(existing).toEqual({ status: 200, body: { groupId: group.id, blocked: true, left: false } });
		expect(missing).toEqual({ status: 200, body: { groupId: missingGroupId, blocked: true, left: false } });
		expect(answer(await stranger.api.delete(`/api/v1/groups/${missingGroupId}/block`)).body).toEqual({
			groupId: missingGroupId,
			blocked: false
		});
	});

	test("a former member is a stranger too", async () => {
		const [owner, member] = [await register(api, "owner"), await register(api, "former")];
		const mine = (await owner.api.post("/api/v1/groups", { name: "Was mine", memberIds: [member.user.id] })).body
			.group;
		expect((await member.api.post(`/api/v1/groups/${mine.id}/leave`)).status).toBe(200);
		expect(answer(await member.api.get(`/api/v1/groups/${mine.id}`))).toEqual(
			answer(await member.api.get(`/api/v1/groups/${missingGroupId}`))
		);
		expect(answer(await member.api.get(`/api/v1/conversations/${mine.conversationId}/messages`))).toEqual(
			answer(await member.api.get(`/api/v1/conversations/group_${missingGroupId}/messages`))
		);
	});
});
