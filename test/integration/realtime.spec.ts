import type { Socket } from "socket.io-client";
import type { Message } from "../../lib/types";
import { startGoChat, RunningGoChat } from "../helpers/gochat";
import { Account, Api, register } from "../helpers/http";
import { closeAll, connect, emitAck, nextEvent, record } from "../helpers/sockets";

type NewMessage = { message: Message };

describe("realtime messaging over Socket.IO", () => {
	let gochat: RunningGoChat;
	let api: Api;
	const sockets: Socket[] = [];
	let counter = 0;

	const open = async (account: Account) => {
		const socket = await connect(gochat.baseUrl, account.accessToken);
		sockets.push(socket);
		return socket;
	};
	const send = (socket: Socket, conversationId: string, content: string, clientMsgId = `rt-${++counter}`) =>
		emitAck(socket, "message:send", { conversationId, clientMsgId, type: "text", content });
	const direct = async (a: Account, b: Account) =>
		(await a.api.post("/api/v1/conversations/direct", { userId: b.user.id })).body.conversation.id as string;
	const arrivalOf = (socket: Socket, content: string) =>
		nextEvent<NewMessage>(socket, "message:new", e => e.message.content === content);

	beforeAll(async () => {
		gochat = await startGoChat({ MESSAGE_MAX_BYTES: "1024" });
		api = new Api(gochat.baseUrl);
	});
	afterEach(() => closeAll(sockets.splice(0)));
	afterAll(() => gochat.stop());

	test("a 1:1 message is acked once stored and reaches the peer, both ways", async () => {
		const [alice, bob] = [await register(api, "alice"), await register(api, "bob")];
		const id = await direct(alice, bob);
		const [a, b] = [await open(alice), await open(bob)];

		const atBob = arrivalOf(b, "hi bob");
		const ack = await send(a, id, "hi bob");
		expect(ack).toMatchObject({
			ok: true,
			message: { conversationId: id, senderId: alice.user.id, seq: 1, content: "hi bob" }
		});
		expect((await atBob).message).toEqual(ack.message);

		const atAlice = arrivalOf(a, "hi alice");
		const reply = await send(b, id, "hi alice");
		expect((await atAlice).message).toEqual(reply.message);
		const stored = await bob.api.get(`/api/v1/conversations/${id}/messages`);
		expect(stored.body.messages.map((m: Message) => m.id)).toEqual([ack.message.id, reply.message.id]);
	});

	test("every socket of a user sees each message once; the sending socket gets only the ack", async () => {
		const [carol, dave] = [await register(api, "carol"), await register(api, "dave")];
		const id = await direct(carol, dave);
		const carolSockets = [await open(carol), await open(carol), await open(carol)];
		const daveSocket = await open(dave);
		const seen = carolSockets.map(s => record<NewMessage>(s, "message:new"));

		for (let i = 0; i < 3; i++) {
			const arrivals = carolSockets.map(s => arrivalOf(s, `from dave ${i}`));
			await send(daveSocket, id, `from dave ${i}`);
			await Promise.all(arrivals);
		}
		for (const log of seen)
			expect(log.map(e => e.message.content)).toEqual(["from dave 0", "from dave 1", "from dave 2"]);

		// Carol's own message goes to her other sockets, not back to the one that sent it.
		const others = [
			arrivalOf(carolSockets[1], "from carol"),
			arrivalOf(carolSockets[2], "from carol"),
			arrivalOf(daveSocket, "from carol")
		];
		await send(carolSockets[0], id, "from carol");
		await Promise.all(others);
		// A later message reaches socket 0 only after anything pushed to it before.
		const marker = arrivalOf(carolSockets[0], "marker");
		await send(daveSocket, id, "marker");
		await marker;
		expect(seen[0].map(e => e.message.content)).not.toContain("from carol");
		expect(seen[1].filter(e => e.message.content === "from carol")).toHaveLength(1);
	});

	test("a resend with the same clientMsgId is stored and delivered once", async () => {
		const [erin, frank] = [await register(api, "erin"), await register(api, "frank")];
		const id = await direct(erin, frank);
		const [e, f] = [await open(erin), await open(frank)];
		const atFrank = record<NewMessage>(f, "message:new");
		const first = await send(e, id, "once", "dup-1");
		const again = await send(e, id, "once", "dup-1");
		expect(again).toEqual(first);
		const marker = arrivalOf(f, "after");
		await send(e, id, "after");
		await marker;
		expect(atFrank.map(m => m.message.content)).toEqual(["once", "after"]);
		const stored = await frank.api.get(`/api/v1/conversations/${id}/messages`);
		expect(stored.body.messages.map((m: Message) => m.content)).toEqual(["once", "after"]);
	});

	test("offline group members catch up by sync with exactly what they missed, in seq order", async () => {
		const members = await Promise.all([0, 1, 2, 3, 4].map(i => register(api, `g${i}`)));
		const created = await members[0].api.post("/api/v1/groups", {
			name: "five",
			memberIds: members.slice(1).map(m => m.user.id)
		});
		const groupConversation = created.body.group.conversationId as string;
		const online = [await open(members[0]), await open(members[1]), await open(members[2])];
		// Members 3 and 4 were here before: they saw one message, then went offline.
		const early = [await open(members[3]), await open(members[4])];
		const seenEarly = early.map(s => arrivalOf(s, "before"));
		await send(online[0], groupConversation, "before");
		await Promise.all(seenEarly);
		closeAll(early);

		// msg 19 is sent from socket 1 (19 % 3), so sockets 0 and 2 receive it.
		const arrivals = [online[0], online[2]].map(s => arrivalOf(s, "msg 19"));
		const sent: Message[] = [];
		for (let i = 0; i < 20; i++) sent.push((await send(online[i % 3], groupConversation, `msg ${i}`)).message);
		await Promise.all(arrivals);

		for (const member of members.slice(3)) {
			const back = await open(member);
			const reply = await emitAck(back, "sync", { since: { [groupConversation]: 1 } });
			expect(reply.ok).toBe(true);
			const entry = reply.conversations.find(
				(c: { conversationId: string }) => c.conversationId === groupConversation
			);
			expect(entry.messages.map((m: Message) => m.id)).toEqual(sent.map(m => m.id));
			expect(entry.messages.map((m: Message) => m.seq)).toEqual(sent.map((_, i) => i + 2));
			expect(entry).toMatchObject({ hasMore: false, lastSeq: 21, unreadCount: 21 });
			// The world room was not listed: it comes along with its newest messages.
			expect(reply.conversations.map((c: { conversationId: string }) => c.conversationId)).toEqual(
				expect.arrayContaining([groupConversation])
			);
			const everything = await back.timeout(10000).emitWithAck("sync");
			expect(everything.ok).toBe(true);
			const upToDate = await emitAck(back, "sync", { since: { [groupConversation]: 21, world: 1e9 } });
			expect(upToDate).toEqual({ ok: true, conversations: [], nextCursor: null });
		}
	});

	test("sync pages: at most 200 messages per conversation, with hasMore; the next page opens with that conversation again", async () => {
		const [gina, hank] = [await register(api, "gina"), await register(api, "hank")];
		const id = await direct(gina, hank);
		for (let i = 0; i < 205; i++)
			await gina.api.post(`/api/v1/conversations/${id}/messages`, {
				clientMsgId: `page-${i}`,
				type: "text",
				content: `p${i}`
			});
		const socket = await open(hank);
		const first = await emitAck(socket, "sync", { since: { [id]: 0, world: 1e9 } });
		const entry = first.conversations[0];
		expect(entry.messages).toHaveLength(200);
		expect(entry.messages[0].seq).toBe(1);
		expect(entry.hasMore).toBe(true);
		expect(first.nextCursor).toEqual(expect.any(String));
		const rest = await emitAck(socket, "sync", { since: { [id]: 200, world: 1e9 }, cursor: first.nextCursor });
		expect(rest.conversations[0].messages.map((m: Message) => m.seq)).toEqual([201, 202, 203, 204, 205]);
		expect(rest.conversations[0].hasMore).toBe(false);
		expect(rest.nextCursor).toBeNull();
	});

	test("bad sends get an error ack and store nothing", async () => {
		const [ivan, judy, mallory] = [
			await register(api, "ivan"),
			await register(api, "judy"),
			await register(api, "mallory")
		];
		const id = await direct(ivan, judy);
		const m = await open(mallory);
		const i = await open(ivan);
		const cases: Array<[Socket, unknown, string]> = [
			[m, { conversationId: id, clientMsgId: "x1", type: "text", content: "sneak" }, "CONVERSATION_NOT_FOUND"],
			[
				i,
				{ conversationId: "group_424242", clientMsgId: "x2", type: "text", content: "void" },
				"CONVERSATION_NOT_FOUND"
			],
			[i, { conversationId: id, type: "text", content: "no id" }, "INVALID_INPUT"],
			[
				i,
				{ conversationId: id, clientMsgId: "x3", type: "text", content: "x".repeat(1025) },
				"MESSAGE_TOO_LARGE"
			],
			[i, "not an object", "INVALID_INPUT"]
		];
		for (const [socket, payload, code] of cases) {
			const ack = await emitAck(socket, "message:send", payload);
			expect(ack).toMatchObject({ ok: false, error: { code, message: expect.any(String) } });
		}
		const tooBig = await emitAck(i, "message:send", {
			conversationId: id,
			clientMsgId: "x4",
			type: "text",
			content: "x".repeat(1025)
		});
		expect(tooBig.error.details).toEqual({ maxBytes: 1024 });
		const stored = await ivan.api.get(`/api/v1/conversations/${id}/messages`);
		expect(stored.body.messages).toEqual([]);
		const call = await i.timeout(10000).emitWithAck("call", "repo.users.getMany", { ids: [] });
		expect(call).toEqual({ ok: false, error: { code: "ROUTE_NOT_FOUND", message: "No such event" } });
		const unknown = await emitAck(i, "hello", {});
		expect(unknown).toEqual({ ok: false, error: { code: "ROUTE_NOT_FOUND", message: "No such event" } });
		const unnamed = await emitAck(i, "conversation:read", { seq: 1 });
		expect(unnamed.error.message).toContain("conversationId");
	});

	test("read positions, typing and presence reach the right sockets", async () => {
		const [kate, liam] = [await register(api, "kate"), await register(api, "liam")];
		const id = await direct(kate, liam);
		const [k1, k2] = [await open(kate), await open(kate)];
		const peerOnline = nextEvent(
			k1,
			"presence",
			(p: { userId: string; online: boolean }) => p.userId === liam.user.id && p.online
		);
		const l = await open(liam);
		expect(await peerOnline).toEqual({ userId: liam.user.id, online: true });

		const typing = nextEvent(l, "typing");
		const typed = await emitAck(k1, "typing", { conversationId: id });
		expect(typed.ok).toBe(true);
		expect(await typing).toEqual({ conversationId: id, userId: kate.user.id });
		const tooFast = await emitAck(k1, "typing", { conversationId: id });
		expect(tooFast).toMatchObject({ ok: false, error: { code: "RATE_LIMITED" } });

		await send(l, id, "read me");
		const otherDevice = nextEvent(k2, "conversation:read");
		const read = await emitAck(k1, "conversation:read", { conversationId: id, seq: 1 });
		expect(read).toMatchObject({ ok: true, readSeq: 1, unreadCount: 0 });
		expect(await otherDevice).toEqual({ conversationId: id, seq: 1 });

		const peerOffline = nextEvent(
			k1,
			"presence",
			(p: { userId: string; online: boolean }) => p.userId === liam.user.id && !p.online
		);
		l.close();
		expect(await peerOffline).toEqual({ userId: liam.user.id, online: false });
	});

	test("group pushes follow membership changes at once: a removed member gets nothing, a new one gets the next", async () => {
		const [owner, kept, removed, added] = await Promise.all(
			["go", "gk", "gr", "ga"].map(name => register(api, name))
		);
		const created = await owner.api.post("/api/v1/groups", {
			name: "changing",
			memberIds: [kept.user.id, removed.user.id]
		});
		const { id: groupId, conversationId } = created.body.group;
		const [o, k, r, a] = await Promise.all([owner, kept, removed, added].map(open));
		const atRemoved = record<NewMessage>(r, "message:new");
		const atAdded = record<NewMessage>(a, "message:new");
		const first = arrivalOf(r, "before");
		await send(o, conversationId, "before");
		await first;

		expect((await owner.api.delete(`/api/v1/groups/${groupId}/members/${removed.user.id}`)).status).toBe(200);
		expect((await owner.api.post(`/api/v1/groups/${groupId}/members`, { userIds: [added.user.id] })).status).toBe(
			200
		);
		const atKept = arrivalOf(k, "after");
		const atNew = arrivalOf(a, "after");
		await send(o, conversationId, "after");
		await Promise.all([atKept, atNew]);
		expect(atRemoved.map(e => e.message.content)).toEqual(["before"]);
		expect(atAdded.map(e => e.message.content)).toEqual(["after"]);
	});

	test("the world room reaches every online user", async () => {
		const people = await Promise.all([0, 1, 2, 3].map(i => register(api, `w${i}`)));
		const [speaker, ...listeners] = await Promise.all(people.map(open));
		const arrivals = listeners.map(s => arrivalOf(s, "hello world"));
		const ack = await send(speaker, "world", "hello world");
		expect(ack.ok).toBe(true);
		for (const event of await Promise.all(arrivals)) expect(event.message.id).toBe(ack.message.id);
	});

	test("a missing, bad or logged-out token cannot connect, and logging out drops open sockets", async () => {
		await expect(connect(gochat.baseUrl, undefined)).rejects.toThrow(/^UNAUTHORIZED/);
		await expect(connect(gochat.baseUrl, "garbage")).rejects.toThrow(/^TOKEN_INVALID/);
		const mona = await register(api, "mona");
		const socket = await open(mona);
		const dropped = new Promise(resolve => socket.once("disconnect", resolve));
		await mona.api.post("/api/v1/auth/logout");
		expect(await dropped).toBe("io server disconnect");
		await expect(connect(gochat.baseUrl, mona.accessToken)).rejects.toThrow(/^TOKEN_REVOKED/);
	});
});
