import type { Socket } from "socket.io-client";
import { GoChatClient, type GoChatClientOptions } from "../../../client/src/client";
import type { ChatMessage } from "../../../client/src/types";
import type { Message, User } from "../../../lib/types";
import { jwt } from "./fake-server";
import { FakeSocketBase } from "./fake-socket";

/**
 * GoChatClient wired to a fake socket and a fake REST server: what the facade does with the
 * connection, sync, outbox and store, without a GoChat.
 */

interface Emitted {
	event: string;
	payload: unknown;
	answer(ack: unknown): void;
	lose(): void;
}

class FakeSocket extends FakeSocketBase {
	disconnects = 0;
	emitted: Emitted[] = [];
	constructor() {
		super(100);
	}
	disconnect() {
		this.disconnects++;
		const was = this.connected;
		this.connected = false;
		this.active = false;
		if (was) this.dropped("io client disconnect");
		return this;
	}
	/** Like socket.io-client: "disconnect", then every ack under way fails. */
	dropped(reason: string) {
		this.connected = false;
		this.fire("disconnect", reason);
		for (const e of this.emitted.splice(0)) e.lose();
	}
	/** The handshake as Socket.IO does it: the auth function first, then "connect". */
	async handshake() {
		await this.token();
		this.up();
	}
	token(): Promise<string> {
		return new Promise(resolve => this.auth(data => resolve(data.token)));
	}
	timeout() {
		return {
			emitWithAck: (event: string, payload: unknown) =>
				new Promise((resolve, reject) => {
					const entry: Emitted = {
						event,
						payload,
						answer: ack => {
							this.emitted.splice(this.emitted.indexOf(entry), 1);
							resolve(ack);
						},
						lose: () => reject(new Error("socket has been disconnected"))
					};
					this.emitted.push(entry);
				})
		};
	}
	next(event: string): Emitted {
		const found = this.emitted.find(e => e.event === event);
		if (!found) throw new Error(`no ${event} under way (${this.emitted.map(e => e.event).join(", ")})`);
		return found;
	}
}

const user = (id: string, username: string): User => ({
	id,
	username,
	displayName: username,
	avatarUrl: null,
	isGuest: false,
	createdAt: "2026-01-01T00:00:00.000Z"
});
const users: Record<string, User> = { alice: user("1", "alice"), bob: user("2", "bob") };

function message(conversationId: string, seq: number, senderId = "9"): Message {
	return {
		id: `${conversationId}:${seq}`,
		conversationId,
		senderId,
		type: "text",
		content: `m${seq}`,
		seq,
		clientMsgId: `c-${conversationId}-${seq}`,
		createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, seq)).toISOString()
	};
}

/** Answers logins (a token naming the user), presence, the list, and history of seq 1..lastSeq. */
function fakeRest(lastSeq = new Map<string, number>()) {
	const calls: string[] = [];
	const fakeFetch = (async (input: string, init: RequestInit = {}) => {
		const url = new URL(input);
		const path = url.pathname.replace("/api/v1", "");
		calls.push(`${init.method ?? "GET"} ${path}${url.search}`);
		const json = (body: unknown) =>
			new Response(JSON.stringify(body), { status: 200, headers: { "content-type": "application/json" } });
		if (path === "/auth/login") {
			const { username } = JSON.parse(init.body as string);
			const now = Math.floor(Date.now() / 1000);
			const accessToken = jwt({ sub: users[username].id, iat: now, exp: now + 900 });
			return json({ user: users[username], accessToken, refreshToken: `r-${username}` });
		}
		if (path === "/presence") return json({ presence: [] });
		if (path === "/conversations") return json({ conversations: [], nextCursor: null });
		const history = /^\/conversations\/([^/]+)\/messages$/.exec(path);
		if (history) {
			const id = decodeURIComponent(history[1]);
			const before = Number(url.searchParams.get("beforeSeq") ?? (lastSeq.get(id) ?? 0) + 1);
			const limit = Number(url.searchParams.get("limit") ?? 50);
			const from = Math.max(1, before - limit);
			const messages = [];
			for (let seq = from; seq < before; seq++) messages.push(message(id, seq));
			return json({ messages, hasMore: from > 1 });
		}
		return new Response(JSON.stringify({ error: { code: "ROUTE_NOT_FOUND", message: path } }), { status: 404 });
	}) as unknown as typeof fetch;
	return { fetch: fakeFetch, calls };
}

const tick = () => new Promise(resolve => setImmediate(resolve));

/** An OutboxStore in a Map the test can read: what a reload would find. */
function memoryOutboxStore() {
	const saved = new Map<string, ChatMessage[]>();
	const outboxStore = {
		load: (userId: string) => saved.get(userId) ?? [],
		save: (userId: string, messages: ChatMessage[]) => void saved.set(userId, messages)
	};
	return { saved, outboxStore };
}
const upToDate = { ok: true, conversations: [], nextCursor: null };

function setup(options: Partial<GoChatClientOptions> = {}, rest = fakeRest()) {
	const sockets: FakeSocket[] = [];
	const client = new GoChatClient({
		baseUrl: "http://gochat.test",
		fetch: rest.fetch,
		socketFactory: (_url, opts) => {
			const socket = new FakeSocket();
			socket.auth = opts.auth as FakeSocket["auth"];
			sockets.push(socket);
			return socket as unknown as Socket;
		},
		...options
	});
	return { client, sockets, rest, socket: () => sockets[sockets.length - 1] };
}

/** Signed in as alice and connected, with the first sync answered. */
async function connected(options: Partial<GoChatClientOptions> = {}, rest = fakeRest()) {
	const t = setup(options, rest);
	await t.client.login("alice", "pw");
	const ready = t.client.connect();
	await t.socket().handshake();
	t.socket().next("sync").answer(upToDate);
	await ready;
	return t;
}

describe("GoChatClient connect and disconnect", () => {
	test("connect() called again during the first sync resolves only once that sync is done", async () => {
		const { client, socket } = setup();
		await client.login("alice", "pw");
		let first = false;
		let second = false;
		void client.connect().then(() => (first = true));
		socket().up();
		void client.connect().then(() => (second = true));
		await tick();
		expect([first, second]).toEqual([false, false]);
		socket().next("sync").answer(upToDate);
		await tick();
		expect([first, second]).toEqual([true, true]);
		client.dispose();
	});

	test("disconnect() during the first sync, then connect(): the old walk ending does not resolve the new connect()", async () => {
		const { client, socket } = setup();
		await client.login("alice", "pw");
		await expect(
			(async () => {
				const first = client.connect();
				socket().up();
				client.disconnect();
				await first;
			})()
		).rejects.toMatchObject({ code: "DISCONNECTED" });
		let resolved = false;
		void client.connect().then(() => (resolved = true));
		await tick();
		await tick();
		expect(client.connectionState).toBe("connecting");
		expect(resolved).toBe(false);
		socket().up();
		socket().next("sync").answer(upToDate);
		await tick();
		expect(resolved).toBe(true);
		client.dispose();
	});

	test("after disconnect() no timer of the SDK is left (sync and send waiting retryAfter, a gap)", async () => {
		// Only the timers this test's code sets count: other suites' timers in the same process come and go.
		const pending = new Set<NodeJS.Timeout>();
		const realSetTimeout = global.setTimeout;
		const realClearTimeout = global.clearTimeout;
		jest.spyOn(global, "setTimeout").mockImplementation(((run: (...args: unknown[]) => void, ms?: number) => {
			const timer = realSetTimeout(() => {
				pending.delete(timer);
				run();
			}, ms);
			pending.add(timer);
			return timer;
		}) as typeof setTimeout);
		jest.spyOn(global, "clearTimeout").mockImplementation(timer => {
			pending.delete(timer as NodeJS.Timeout);
			realClearTimeout(timer);
		});
		const timers = () => pending.size;
		const { client, socket } = await connected({ gapSyncDelayMs: 60_000 });
		// What stays after disconnect(): the token refresh, which only dispose() stops.
		const baseline = timers();
		// A send refused with retryAfter: the outbox waits.
		client.send("world", "hello");
		socket()
			.next("message:send")
			.answer({ ok: false, error: { code: "RATE_LIMITED", message: "slow", details: { retryAfter: 30 } } });
		// A sync refused with retryAfter: the walk waits.
		socket().fire("sync:required", { reason: "node-lost" });
		socket()
			.next("sync")
			.answer({ ok: false, error: { code: "OVERLOADED", message: "busy", details: { retryAfter: 30 } } });
		// A gap: seq 3 without 2 waits for a sync.
		socket().fire("message:new", { message: message("world", 1) });
		socket().fire("message:new", { message: message("world", 3) });
		await tick();
		expect(timers()).toBeGreaterThan(baseline);
		client.disconnect();
		await tick();
		expect(timers()).toBe(baseline);
		client.dispose();
		expect(timers()).toBe(0);
		jest.restoreAllMocks();
	});
});

describe("GoChatClient state", () => {
	test("signing in as another user on the same client closes the old user's socket and starts afresh", async () => {
		const { client, socket } = await connected();
		socket().fire("message:new", { message: message("single_1_9", 1) });
		expect(client.messages("single_1_9")).toHaveLength(1);
		const aliceSocket = socket();

		const auth: unknown[] = [];
		client.on("auth", e => auth.push(e.user?.username));
		await client.login("bob", "pw");
		expect(auth).toEqual(["bob"]);
		// alice's socket is closed (it would push alice's messages into bob's store), not handed bob's token.
		expect(aliceSocket.disconnects).toBe(1);
		expect(aliceSocket.emitted.map(e => e.event)).not.toContain("auth:refresh");
		expect(client.conversations()).toEqual([]);
		expect(client.messages("single_1_9")).toEqual([]);
		// The connection comes back as bob.
		expect(client.connectionState).toBe("connecting");
		const token = await socket().token();
		expect(JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString()).sub).toBe("2");
		client.dispose();
	});

	test("sync:required asks for the presence of every 1:1 peer again, since presence events may have been missed too", async () => {
		const rest = fakeRest();
		const { client, socket } = await connected({}, rest);
		socket().fire("message:new", { message: message("single_1_2", 1, "2") });
		socket().fire("message:new", { message: message("single_1_7", 1, "7") });
		socket().fire("message:new", { message: message("world", 1) });
		const asked = () => rest.calls.filter(call => call.startsWith("GET /presence"));
		// The new 1:1s bring the REST list, and with it a presence ask for the peers not known yet.
		for (let i = 0; i < 5; i++) await tick();
		const before = asked().length;
		expect(before).toBeGreaterThan(0);
		socket().fire("sync:required", { reason: "node-lost" });
		await tick();
		expect(asked().slice(before)).toEqual(["GET /presence?userIds=2%2C7"]);
		socket().next("sync").answer(upToDate);
		client.dispose();
	});

	test("with an outbox store, unsent messages outlive the client: the next one shows and sends them with the same clientMsgId; logout forgets them", async () => {
		const { saved, outboxStore } = memoryOutboxStore();
		const first = await connected({ outboxStore });
		first.client.disconnect();
		const a = first.client.send("single_1_2", "written offline");
		const b = first.client.send("single_1_2", "and another");
		expect(saved.get("1")?.map(m => m.clientMsgId)).toEqual([a.clientMsgId, b.clientMsgId]);
		first.client.dispose();

		// A reload: a new client, the same stores.
		const { client, socket } = setup({ outboxStore });
		await client.login("alice", "pw");
		expect(client.messages("single_1_2").map(m => [m.content, m.status])).toEqual([
			["written offline", "pending"],
			["and another", "pending"]
		]);
		const ready = client.connect();
		await socket().handshake();
		const resend = socket().next("message:send");
		expect(resend.payload).toMatchObject({ clientMsgId: a.clientMsgId, content: "written offline" });
		resend.answer({ ok: true, message: { ...message("single_1_2", 1, "1"), clientMsgId: a.clientMsgId } });
		await tick();
		expect(saved.get("1")?.map(m => m.clientMsgId)).toEqual([b.clientMsgId]);
		socket().next("sync").answer(upToDate);
		await ready;

		// Signing in as bob keeps alice's for her next sign-in; logging out forgets bob's.
		await client.login("bob", "pw");
		expect(saved.get("1")?.map(m => m.clientMsgId)).toEqual([b.clientMsgId]);
		client.send("single_1_2", "bob's");
		expect(saved.get("2")).toHaveLength(1);
		await client.logout();
		expect(saved.get("2")).toEqual([]);
		expect(saved.get("1")).toHaveLength(1);
		client.dispose();
	});

	test("an outbox store that throws costs only the saved copy: sends are shown and go out, sign-in goes on", async () => {
		const outboxStore = {
			load: (): ChatMessage[] => {
				throw new Error("SecurityError");
			},
			save: () => {
				throw new Error("QuotaExceededError");
			}
		};
		const { client, socket } = await connected({ outboxStore });
		const pending = client.send("single_1_2", "still sent");
		expect(client.messages("single_1_2").map(m => m.status)).toEqual(["pending"]);
		const send = socket().next("message:send");
		send.answer({ ok: true, message: { ...message("single_1_2", 1, "1"), clientMsgId: pending.clientMsgId } });
		await tick();
		expect(client.messages("single_1_2").map(m => m.status)).toEqual(["sent"]);
		// Signing in as someone else still reopens the socket.
		await client.login("bob", "pw");
		expect(client.connectionState).toBe("connecting");
		client.dispose();
	});

	test("a restored message stored long before what is held is left to history, not put above a hole", async () => {
		const { saved, outboxStore } = memoryOutboxStore();
		const rest = fakeRest(new Map([["world", 500]]));
		const lostAck: ChatMessage = {
			id: null,
			conversationId: "world",
			senderId: "1",
			type: "text",
			content: "sent before the reload",
			seq: null,
			clientMsgId: "lost-ack",
			createdAt: "2026-11-22T00:00:00.000Z",
			status: "pending"
		};
		saved.set("1", [lostAck]);
		const { client, socket } = setup({ outboxStore }, rest);
		await client.login("alice", "pw");
		const ready = client.connect();
		await socket().handshake();
		// The sync brings the newest 200; the resend is answered with the original, seq 100.
		const newest = Array.from({ length: 200 }, (_, i) => message("world", 301 + i));
		socket()
			.next("sync")
			.answer({
				ok: true,
				conversations: [
					{ conversationId: "world", messages: newest, lastSeq: 500, readSeq: 0, hasMore: false }
				],
				nextCursor: null
			});
		await ready;
		socket()
			.next("message:send")
			.answer({ ok: true, message: { ...message("world", 100, "1"), clientMsgId: "lost-ack" } });
		await tick();
		const held = client.messages("world");
		expect(held.map(m => m.status).every(status => status === "sent")).toBe(true);
		expect(held[0].seq).toBe(301);
		await client.loadOlder("world", 50);
		expect(rest.calls).toContain("GET /conversations/world/messages?beforeSeq=301&limit=50");
		expect(saved.get("1")).toEqual([]);
		client.dispose();
	});

	test("a restored pending message stays its row's last message after the REST list merges, and the row is asked for", async () => {
		const saved = new Map<string, ChatMessage[]>([
			[
				"1",
				[
					{
						id: null,
						conversationId: "single_1_2",
						senderId: "1",
						type: "text",
						content: "restored",
						seq: null,
						clientMsgId: "r-1",
						createdAt: "2026-11-22T00:00:00.000Z",
						status: "pending"
					}
				]
			]
		]);
		const outboxStore = { load: (userId: string) => saved.get(userId) ?? [], save: () => undefined };
		const rest = fakeRest();
		const { client } = setup({ outboxStore }, rest);
		await client.login("alice", "pw");
		await tick();
		// The row the restore made is unknown to the client: the REST list is asked for its title.
		expect(rest.calls).toContain("GET /conversations?limit=100");
		(client as unknown as { store: { merge(summary: unknown): void } }).store.merge({
			id: "single_1_2",
			type: "single",
			title: "bob",
			lastMessage: message("single_1_2", 7, "2"),
			lastSeq: 7,
			readSeq: 7,
			updatedAt: "2026-11-22T00:00:01.000Z"
		});
		const row = client.conversations().find(c => c.id === "single_1_2");
		expect(row?.title).toBe("bob");
		expect(row?.lastMessage?.content).toBe("restored");
		client.dispose();
	});

	test("typing is never sent in the world room", async () => {
		const { client, socket } = await connected();
		client.typing("world");
		client.typing("single_1_2");
		expect(socket().emitted.map(e => [e.event, e.payload])).toEqual([["typing", { conversationId: "single_1_2" }]]);
		client.dispose();
	});

	test("a long-lived world room holds at most maxMessagesPerConversation; loadOlder brings older ones back", async () => {
		const total = 250;
		const rest = fakeRest(new Map([["world", total]]));
		const { client, socket } = await connected({ maxMessagesPerConversation: 100 }, rest);
		for (let seq = 1; seq <= total; seq++) socket().fire("message:new", { message: message("world", seq) });
		const held = client.messages("world");
		expect(held).toHaveLength(100);
		expect(held[0].seq).toBe(151);
		expect(held[99].seq).toBe(250);
		expect(client.hasOlder("world")).toBe(true);
		// A late copy of a dropped message (pushes are at least once) stays out.
		socket().fire("message:new", { message: message("world", 10) });
		expect(client.messages("world")[0].seq).toBe(151);
		// The cursor still says everything up to 250 was received: sync asks from there.
		socket().fire("sync:required", { reason: "node-lost" });
		expect(socket().next("sync").payload).toEqual({ since: { world: total } });
		socket().next("sync").answer(upToDate);

		expect(await client.loadOlder("world", 50)).toEqual({ added: 50, hasMore: true });
		expect(client.messages("world")).toHaveLength(150);
		expect(client.messages("world")[0].seq).toBe(101);
		expect(rest.calls).toContain("GET /conversations/world/messages?beforeSeq=151&limit=50");
		client.dispose();
	});
});
