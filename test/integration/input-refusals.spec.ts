import type { Socket } from "socket.io-client";
import { startGoChat, RunningGoChat } from "../helpers/gochat";
import { Account, Api, Reply, register } from "../helpers/http";
import { closeAll, connect, emitAck } from "../helpers/sockets";

/**
 * Inputs that once reached the database and failed there (500), or were stored differently from
 * how they were sent, are refused with 400 on SQLite and MariaDB alike; nothing is stored.
 */
describe("logic-layer inputs are refused with 400, never a 500", () => {
	let gochat: RunningGoChat;
	let api: Api;
	let alice: Account;
	let bob: Account;
	let direct: string;
	const sockets: Socket[] = [];

	const send = (clientMsgId: unknown, content: unknown = "hello") =>
		alice.api.post(`/api/v1/conversations/${direct}/messages`, { clientMsgId, type: "text", content });
	const history = async () =>
		(await alice.api.get(`/api/v1/conversations/${direct}/messages?limit=200`)).body.messages as Array<{
			id: string;
			clientMsgId: string;
			content: string;
		}>;
	const expect400 = (res: Reply) =>
		expect({ status: res.status, code: res.body?.error?.code }).toEqual({ status: 400, code: "INVALID_INPUT" });

	beforeAll(async () => {
		// This suite sends a few dozen messages at once; the send rate limits are another suite's subject.
		gochat = await startGoChat({ SEND_RATE_USER: "off", SEND_RATE_SOCKET: "off" });
		api = new Api(gochat.baseUrl);
		[alice, bob] = [await register(api, "alice"), await register(api, "bob")];
		direct = (await alice.api.post("/api/v1/conversations/direct", { userId: bob.user.id })).body.conversation.id;
	});
	afterEach(() => closeAll(sockets.splice(0)));
	afterAll(() => gochat.stop());

	describe("clientMsgId is compared exactly", () => {
		test("a resend with trailing spaces is refused, never taken for the original", async () => {
			const first = await send("exact-1", "the original");
			expect(first.status).toBe(200);
			for (const variant of ["exact-1 ", "exact-1   ", " exact-1", "exact-1\t", "exact-1\u00a0"]) {
				expect400(await send(variant, "a different message"));
			}
			const stored = (await history()).filter(
				m => m.clientMsgId.startsWith("exact-1") || m.clientMsgId.endsWith("exact-1")
			);
			expect(stored.map(m => [m.clientMsgId, m.content])).toEqual([["exact-1", "the original"]]);
		});

		test("IDs that differ in case or inner spaces are different messages on every database", async () => {
			for (const id of ["case-a", "CASE-A", "inner space", "inner  space"])
				expect((await send(id, `sent as ${id}`)).status).toBe(200);
			const byId = new Map((await history()).map(m => [m.clientMsgId, m.content]));
			for (const id of ["case-a", "CASE-A", "inner space", "inner  space"])
				expect(byId.get(id)).toBe(`sent as ${id}`);
		});

		test.each([
			["a NUL", "nul\u0000"],
			["a control character", "bell\u0007"],
			["an unpaired surrogate", "half\ud800"],
			["the other half of a surrogate", "half\udc00"],
			["nothing", ""],
			["65 characters", "x".repeat(65)]
		])("an ID with %s is refused with 400 and nothing is stored", async (_what, clientMsgId) => {
			const before = (await history()).length;
			expect400(await send(clientMsgId));
			expect(await history()).toHaveLength(before);
		});

		test("the same refusal comes as a socket ack", async () => {
			const socket = await connect(gochat.baseUrl, alice.accessToken);
			sockets.push(socket);
			const ack = await emitAck(socket, "message:send", {
				conversationId: direct,
				clientMsgId: "sock\u0000et",
				type: "text",
				content: "hi"
			});
			expect(ack).toMatchObject({ ok: false, error: { code: "INVALID_INPUT" } });
		});
	});

	test.each([
		["a NUL", "before\u0000after"],
		["an unpaired surrogate", "broken \ud83d"]
	])("message content with %s is refused with 400 and nothing is stored", async (_what, content) => {
		const before = (await history()).length;
		expect400(await send(`content-${before}`, content));
		expect(await history()).toHaveLength(before);
	});

	test("message content keeps newlines, tabs and emoji", async () => {
		const res = await send("content-ok", "line 1\n\tline 2 😀");
		expect(res.status).toBe(200);
		expect((await history()).find(m => m.clientMsgId === "content-ok")?.content).toBe("line 1\n\tline 2 😀");
	});

	describe("profiles and groups", () => {
		test("displayName null is refused with 400; avatarUrl null still clears the avatar", async () => {
			const carol = await register(api, "carol");
			expect(
				(await carol.api.patch("/api/v1/users/me", { avatarUrl: "https://cdn.example.com/c.png" })).status
			).toBe(200);
			expect400(await carol.api.patch("/api/v1/users/me", { displayName: null }));
			expect400(await carol.api.patch("/api/v1/users/me", { displayName: null, avatarUrl: null }));
			expect((await carol.api.get("/api/v1/users/me")).body.user).toMatchObject({
				displayName: "carol",
				avatarUrl: "https://cdn.example.com/c.png"
			});
			const cleared = await carol.api.patch("/api/v1/users/me", { avatarUrl: null });
			expect(cleared.status).toBe(200);
			expect(cleared.body.user).toMatchObject({ displayName: "carol", avatarUrl: null });
		});

		test.each([
			["longer than 512 characters", `https://cdn.example.com/${"a".repeat(500)}`],
			["with a NUL", "https://cdn.example.com/a\u0000.png"],
			["with a space", "https://cdn.example.com/a b.png"],
			["with an unpaired surrogate", "https://cdn.example.com/\ud800.png"]
		])("an avatarUrl %s is refused with 400 and the avatar stays", async (_what, avatarUrl) => {
			const dave = await register(api, "dave");
			expect400(await dave.api.patch("/api/v1/users/me", { avatarUrl }));
			expect((await dave.api.get("/api/v1/users/me")).body.user.avatarUrl).toBeNull();
		});

		test("an avatarUrl of exactly 512 characters is kept", async () => {
			const erin = await register(api, "erin");
			const avatarUrl = `https://cdn.example.com/${"a".repeat(512 - 24)}`;
			expect(avatarUrl).toHaveLength(512);
			const res = await erin.api.patch("/api/v1/users/me", { avatarUrl });
			expect(res.status).toBe(200);
			expect((await erin.api.get("/api/v1/users/me")).body.user.avatarUrl).toBe(avatarUrl);
		});

		test("display and group names with an unpaired surrogate are refused, as they could not be stored as sent", async () => {
			const frank = await register(api, "frank");
			expect400(await frank.api.patch("/api/v1/users/me", { displayName: "Fr\ud800nk" }));
			expect((await frank.api.get("/api/v1/users/me")).body.user.displayName).toBe("frank");
			expect400(await frank.api.post("/api/v1/groups", { name: "club \udfff" }));
			const list = await frank.api.get("/api/v1/conversations");
			expect(list.body.conversations.filter((c: { type: string }) => c.type === "group")).toEqual([]);
			const emoji = await frank.api.patch("/api/v1/users/me", { displayName: "Frank 😀" });
			expect(emoji.body.user.displayName).toBe("Frank 😀");
		});

		test("NUL in IDs and query parameters is refused with 400", async () => {
			const group = (await alice.api.post("/api/v1/groups", { name: "ids" })).body.group;
			for (const path of [
				"/api/v1/users/1%00",
				"/api/v1/users?q=a%00",
				`/api/v1/groups/${group.id}/members?after=1%00`,
				`/api/v1/groups/${group.id}/members?limit=1%00`,
				`/api/v1/conversations/${direct}/messages?beforeSeq=1%00`
			]) {
				expect400(await alice.api.get(path));
			}
			expect400(await alice.api.post("/api/v1/groups", { name: "g", memberIds: ["1\u0000"] }));
			expect400(await alice.api.post("/api/v1/conversations/direct", { userId: "1\u0000" }));
		});
	});
});
