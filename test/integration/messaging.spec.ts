import { startGoChat, RunningGoChat } from "../helpers/gochat";
import { Account, Api, register } from "../helpers/http";

describe("conversations and messages over HTTP", () => {
	let gochat: RunningGoChat;
	let api: Api;
	let alice: Account;
	let bob: Account;
	let eve: Account;
	let direct: string;
	let clientMsgCounter = 0;
	const nextClientMsgId = () => `cm-${++clientMsgCounter}`;

	const send = (
		who: Account,
		conversationId: string,
		content: string,
		clientMsgId = nextClientMsgId(),
		type = "text"
	) => who.api.post(`/api/v1/conversations/${conversationId}/messages`, { clientMsgId, type, content });

	beforeAll(async () => {
		gochat = await startGoChat({ MESSAGE_MAX_BYTES: "1024" });
		api = new Api(gochat.baseUrl);
		[alice, bob, eve] = [await register(api, "alice"), await register(api, "bob"), await register(api, "eve")];
		const opened = await alice.api.post("/api/v1/conversations/direct", { userId: bob.user.id });
		direct = opened.body.conversation.id;
	});
	afterAll(() => gochat.stop());

	test("opening a direct conversation gives the same id from both sides", async () => {
		const [low, high] = [alice.user.id, bob.user.id].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));
		expect(direct).toBe(`single_${low}_${high}`);
		const again = await bob.api.post("/api/v1/conversations/direct", { userId: alice.user.id });
		expect(again.status).toBe(200);
		expect(again.body.conversation).toMatchObject({ id: direct, type: "direct", title: "alice" });
	});

	test("a direct conversation with yourself, an unknown user or a bad id is refused", async () => {
		const self = await alice.api.post("/api/v1/conversations/direct", { userId: alice.user.id });
		expect([self.status, self.body.error.code]).toEqual([400, "INVALID_INPUT"]);
		const unknown = await alice.api.post("/api/v1/conversations/direct", { userId: "12345" });
		expect([unknown.status, unknown.body.error.code]).toEqual([404, "USER_NOT_FOUND"]);
		const bad = await alice.api.post("/api/v1/conversations/direct", { userId: "abc" });
		expect([bad.status, bad.body.error.code]).toEqual([400, "INVALID_INPUT"]);
	});

	test("a sent message is stored with an id and the next seq, and both sides read it", async () => {
		const first = await send(alice, direct, "hello bob");
		expect(first.status).toBe(200);
		expect(first.body.message).toMatchObject({
			conversationId: direct,
			senderId: alice.user.id,
			type: "text",
			content: "hello bob",
			seq: 1
		});
		expect(first.body.message.id).toMatch(/^\d+$/);
		expect(new Date(first.body.message.createdAt).toISOString()).toBe(first.body.message.createdAt);
		const second = await send(bob, direct, "hi alice");
		expect(second.body.message.seq).toBe(2);
		const history = await bob.api.get(`/api/v1/conversations/${direct}/messages`);
		expect(history.status).toBe(200);
		expect(history.body.messages.map((m: { content: string }) => m.content)).toEqual(["hello bob", "hi alice"]);
		expect(history.body.hasMore).toBe(false);
	});

	test("resending the same clientMsgId returns the same message and stores nothing new", async () => {
		const original = await send(alice, direct, "only once", "resend-1");
		const resent = await send(alice, direct, "only once", "resend-1");
		expect(resent.status).toBe(200);
		expect(resent.body.message).toEqual(original.body.message);
		const parallel = await Promise.all([1, 2, 3, 4].map(() => send(bob, direct, "racing", "race-1")));
		const ids = new Set(parallel.map(r => r.body.message.id));
		expect(ids.size).toBe(1);
		const history = await alice.api.get(`/api/v1/conversations/${direct}/messages?limit=200`);
		const contents = history.body.messages.map((m: { content: string }) => m.content);
		expect(contents.filter((c: string) => c === "only once")).toHaveLength(1);
		expect(contents.filter((c: string) => c === "racing")).toHaveLength(1);
	});

	test("a resend after Redis was flushed still returns the original and skips no seq", async () => {
		const first = await send(alice, direct, "remembered", "forgot-1");
		const repo = gochat.broker.getLocalService("repo.messages") as unknown as {
			state: { del(...keys: string[]): Promise<void> };
		};
		// De-duplication asks SQL, not the state store: losing everything there changes nothing.
		await repo.state.del(`hot:${direct}`);
		const resent = await send(alice, direct, "remembered", "forgot-1");
		expect(resent.body.message).toEqual(first.body.message);
		const next = await send(bob, direct, "next one");
		expect(next.body.message.seq).toBe(first.body.message.seq + 1);
	});

	test("the same clientMsgId in another conversation is a conflict", async () => {
		await send(alice, direct, "here", "moved-1");
		const elsewhere = await send(alice, "world", "there", "moved-1");
		expect([elsewhere.status, elsewhere.body.error.code]).toEqual([409, "CLIENT_MSG_ID_CONFLICT"]);
	});

	test("seq is strictly increasing under concurrent sends", async () => {
		const replies = await Promise.all(
			Array.from({ length: 20 }, (_, i) => send(i % 2 ? alice : bob, direct, `burst ${i}`))
		);
		const seqs = replies.map(r => r.body.message.seq).sort((a, b) => a - b);
		expect(new Set(seqs).size).toBe(20);
		const history = await alice.api.get(`/api/v1/conversations/${direct}/messages?limit=200`);
		const all = history.body.messages.map((m: { seq: number }) => m.seq);
		expect(all).toEqual([...all].sort((a, b) => a - b));
	});

	test("history pages back with beforeSeq and forward with afterSeq", async () => {
		const opened = await alice.api.post("/api/v1/conversations/direct", { userId: eve.user.id });
		const id = opened.body.conversation.id;
		for (let i = 1; i <= 7; i++) await send(i % 2 ? alice : eve, id, `m${i}`);
		const latest = await alice.api.get(`/api/v1/conversations/${id}/messages?limit=3`);
		expect(latest.body.messages.map((m: { seq: number }) => m.seq)).toEqual([5, 6, 7]);
		expect(latest.body.hasMore).toBe(true);
		const older = await alice.api.get(`/api/v1/conversations/${id}/messages?limit=3&beforeSeq=5`);
		expect(older.body.messages.map((m: { seq: number }) => m.seq)).toEqual([2, 3, 4]);
		expect(older.body.hasMore).toBe(true);
		const oldest = await alice.api.get(`/api/v1/conversations/${id}/messages?limit=3&beforeSeq=2`);
		expect(oldest.body).toMatchObject({ hasMore: false });
		expect(oldest.body.messages.map((m: { seq: number }) => m.seq)).toEqual([1]);
		const forward = await eve.api.get(`/api/v1/conversations/${id}/messages?afterSeq=4&limit=2`);
		expect(forward.body.messages.map((m: { seq: number }) => m.seq)).toEqual([5, 6]);
		expect(forward.body.hasMore).toBe(true);
		const tail = await eve.api.get(`/api/v1/conversations/${id}/messages?afterSeq=6`);
		expect(tail.body).toMatchObject({ hasMore: false });
		expect(tail.body.messages.map((m: { seq: number }) => m.seq)).toEqual([7]);
	});

	test.each([["limit=0"], ["limit=201"], ["limit=abc"], ["beforeSeq=-1"], ["afterSeq=1.5"]])(
		"history refuses %s with 400",
		async query => {
			const res = await alice.api.get(`/api/v1/conversations/${direct}/messages?${query}`);
			expect([res.status, res.body.error.code]).toEqual([400, "INVALID_INPUT"]);
		}
	);

	test("a non-member can neither read nor write a conversation (404, as if it did not exist), and nothing is stored", async () => {
		const read = await eve.api.get(`/api/v1/conversations/${direct}/messages`);
		expect([read.status, read.body.error.code]).toEqual([404, "CONVERSATION_NOT_FOUND"]);
		const before = await alice.api.get(`/api/v1/conversations/${direct}/messages?limit=1`);
		const write = await send(eve, direct, "let me in");
		expect([write.status, write.body.error.code]).toEqual([404, "CONVERSATION_NOT_FOUND"]);
		const after = await alice.api.get(`/api/v1/conversations/${direct}/messages?limit=1`);
		expect(after.body.messages).toEqual(before.body.messages);
	});

	test("an unknown conversation is a 404", async () => {
		for (const id of ["group_999", "single_1_2", "nonsense"]) {
			const res = await send(alice, id, "anyone?");
			expect([res.status, res.body.error.code]).toEqual([404, "CONVERSATION_NOT_FOUND"]);
		}
	});

	test.each([
		[{ type: "text", content: "no id" }, "clientMsgId"],
		[{ clientMsgId: "x1", type: "sticker", content: "?" }, "type"],
		[{ clientMsgId: "x2", type: "text", content: "" }, "content"],
		[{ clientMsgId: "x".repeat(65), type: "text", content: "long id" }, "clientMsgId"],
		[{ clientMsgId: "x3", type: "text", content: 42 }, "content"]
	])("a send with %j is refused with 400 naming %s", async (body, field) => {
		const res = await alice.api.post(`/api/v1/conversations/${direct}/messages`, body);
		expect([res.status, res.body.error.code]).toEqual([400, "INVALID_INPUT"]);
		expect(res.body.error.message).toContain(field);
	});

	test("content over MESSAGE_MAX_BYTES is 413 and is not stored", async () => {
		const before = await alice.api.get(`/api/v1/conversations/${direct}/messages?limit=1`);
		const big = await send(alice, direct, "é".repeat(513));
		expect([big.status, big.body.error.code]).toEqual([413, "MESSAGE_TOO_LARGE"]);
		const fits = await send(alice, direct, "é".repeat(512));
		expect(fits.status).toBe(200);
		const after = await alice.api.get(`/api/v1/conversations/${direct}/messages?limit=2`);
		expect(after.body.messages[0].seq).toBe(before.body.messages[0].seq);
	});

	test("the conversation list shows titles, last messages and unread counts, latest first", async () => {
		const carol = await register(api, "carol");
		const dan = await register(api, "dan");
		const opened = await carol.api.post("/api/v1/conversations/direct", { userId: dan.user.id });
		const id = opened.body.conversation.id;
		await send(dan, id, "one");
		await send(dan, id, "two");
		await send(carol, "world", "hello world");
		await send(dan, id, "three");
		const list = await carol.api.get("/api/v1/conversations");
		expect(list.status).toBe(200);
		const [first, second] = list.body.conversations;
		expect(first).toMatchObject({ id, type: "direct", title: "dan", lastSeq: 3, readSeq: 0, unreadCount: 3 });
		expect(first.lastMessage).toMatchObject({ content: "three", senderId: dan.user.id });
		expect(second).toMatchObject({ id: "world", type: "world", title: "World" });
		expect(second.unreadCount).toBe(0);

		const read = await carol.api.post(`/api/v1/conversations/${id}/read`, { seq: 2 });
		expect(read.status).toBe(200);
		expect(read.body).toMatchObject({ readSeq: 2, unreadCount: 1 });
		const back = await carol.api.post(`/api/v1/conversations/${id}/read`, { seq: 1 });
		expect(back.body.readSeq).toBe(2);
		const beyond = await carol.api.post(`/api/v1/conversations/${id}/read`, { seq: 99 });
		expect(beyond.body).toMatchObject({ readSeq: 3, unreadCount: 0 });
		const bad = await carol.api.post(`/api/v1/conversations/${id}/read`, { seq: -1 });
		expect([bad.status, bad.body.error.code]).toEqual([400, "INVALID_INPUT"]);
		const stranger = await alice.api.post(`/api/v1/conversations/${id}/read`, { seq: 1 });
		expect([stranger.status, stranger.body.error.code]).toEqual([404, "CONVERSATION_NOT_FOUND"]);
	});

	test("every registered user is in the world room", async () => {
		const newcomer = await register(api, "newcomer");
		const list = await newcomer.api.get("/api/v1/conversations");
		expect(list.body.conversations.map((c: { id: string }) => c.id)).toEqual(["world"]);
		const posted = await send(newcomer, "world", "hi everyone");
		expect(posted.status).toBe(200);
		const seen = await alice.api.get("/api/v1/conversations/world/messages?limit=1");
		expect(seen.body.messages[0]).toMatchObject({ content: "hi everyone", senderId: newcomer.user.id });
	});

	test("history near the end of a conversation comes from the hot cache, without a database read", async () => {
		const opened = await bob.api.post("/api/v1/conversations/direct", { userId: eve.user.id });
		const id = opened.body.conversation.id;
		for (let i = 1; i <= 5; i++) await send(i % 2 ? bob : eve, id, `hot ${i}`);
		const repo = gochat.broker.getLocalService("repo.messages") as unknown as {
			db: {
				models: {
					Message: {
						addHook(name: string, key: string, fn: () => void): void;
						removeHook(name: string, key: string): void;
					};
				};
			};
		};
		let reads = 0;
		repo.db.models.Message.addHook("beforeFind", "count-reads", () => {
			reads++;
		});
		try {
			const stats = async () =>
				(await gochat.broker.call<{ cache: { hits: number; misses: number } }>("repo.messages.stats")).cache;
			const before = await stats();
			const latest = await eve.api.get(`/api/v1/conversations/${id}/messages?limit=3`);
			const forward = await bob.api.get(`/api/v1/conversations/${id}/messages?afterSeq=1`);
			expect(latest.body.messages.map((m: { content: string }) => m.content)).toEqual([
				"hot 3",
				"hot 4",
				"hot 5"
			]);
			expect(forward.body.messages.map((m: { seq: number }) => m.seq)).toEqual([2, 3, 4, 5]);
			const after = await stats();
			expect(after.hits - before.hits).toBe(2);
			expect(after.misses).toBe(before.misses);
			expect(reads).toBe(0);
		} finally {
			repo.db.models.Message.removeHook("beforeFind", "count-reads");
		}
	});

	test("history and the next seq stay right after the hot cache is lost or rewound", async () => {
		const [ann, ben] = [await register(api, "ann"), await register(api, "ben")];
		const opened = await ann.api.post("/api/v1/conversations/direct", { userId: ben.user.id });
		const id = opened.body.conversation.id;
		for (let i = 1; i <= 3; i++) await send(i % 2 ? ann : ben, id, `kept ${i}`);
		const repo = gochat.broker.getLocalService("repo.messages") as unknown as {
			state: {
				del(key: string): Promise<void>;
				zremRangeByScore(key: string, min: number, max: number): Promise<void>;
			};
		};
		// Rewound: the cache forgets its newest message, as a restore from an older snapshot would.
		await repo.state.zremRangeByScore(`hot:${id}`, 3, 3);
		const afterRewind = await ben.api.get(`/api/v1/conversations/${id}/messages?limit=10`);
		expect(afterRewind.body.messages.map((m: { content: string }) => m.content)).toEqual([
			"kept 1",
			"kept 2",
			"kept 3"
		]);
		await repo.state.del(`hot:${id}`);
		const next = await send(ann, id, "after the loss");
		expect(next.body.message.seq).toBe(4);
		const all = await ben.api.get(`/api/v1/conversations/${id}/messages?afterSeq=0`);
		expect(all.body.messages.map((m: { seq: number }) => m.seq)).toEqual([1, 2, 3, 4]);
	});
});
