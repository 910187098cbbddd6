import type { Socket } from "socket.io-client";
import { startGoChat, RunningGoChat } from "../helpers/gochat";
import { Account, Api, register } from "../helpers/http";
import { PrivateRedis, startPrivateRedis } from "../helpers/redis-server";
import { serverSuite } from "../helpers/servers";
import { closeAll, connect, emitAck, nextEvent } from "../helpers/sockets";

type Message = { id: string; conversationId: string; seq: number; content: string };
type NewMessage = { message: Message };

const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

/**
 * SQL is the truth (docs/architecture.md#sql-is-the-truth): GoChat's Redis (state, cache, queue) is lost or rewound while
 * clients stay connected, and nothing acked disappears, nothing fails, and pushes resume.
 */
serverSuite("private-redis", "Redis restored from an old snapshot, or flushed", () => {
	let redis: PrivateRedis;
	let gochat: RunningGoChat;
	let api: Api;
	const sockets: Socket[] = [];
	let counter = 0;

	beforeAll(async () => {
		redis = await startPrivateRedis();
		gochat = await startGoChat({
			REDIS_URL: redis.url,
			REDIS_PREFIX: "recovery:",
			QUEUE_URL: redis.url,
			PRESENCE_TTL: "30"
		});
		api = new Api(gochat.baseUrl);
	});
	afterAll(async () => {
		closeAll(sockets);
		await gochat?.stop();
		await redis?.stop();
	});

	const send = (socket: Socket, conversationId: string, content: string) =>
		emitAck<{ ok: boolean; message: Message; error: { code: string } }>(socket, "message:send", {
			conversationId,
			clientMsgId: `rr-${++counter}`,
			type: "text",
			content
		});

	/** Sends every 200 ms until the receiver gets one of them (bounded): pushes resume within seconds. */
	async function pushesReachAgain(from: Socket, to: Socket, conversationId: string, label: string): Promise<number> {
		const started = Date.now();
		const arrived = nextEvent<NewMessage>(to, "message:new", e => e.message.content.startsWith(label));
		let received = false;
		void arrived.then(() => {
			received = true;
		});
		for (let i = 0; !received && Date.now() - started < 10_000; i++) {
			const ack = await send(from, conversationId, `${label} ${i}`);
			expect(ack.ok).toBe(true);
			await Promise.race([arrived, new Promise(resolve => setTimeout(resolve, 200))]);
		}
		expect(received).toBe(true);
		return Date.now() - started;
	}

	async function everythingIsThere(reader: Account, conversationId: string, count: number) {
		const history = await reader.api.get(`/api/v1/conversations/${conversationId}/messages?limit=200`);
		expect(history.status).toBe(200);
		expect(history.body.messages.map((m: Message) => m.seq)).toEqual(range(count));
		const newest = await reader.api.get(`/api/v1/conversations/${conversationId}/messages?limit=3`);
		expect(newest.body.messages.map((m: Message) => m.seq)).toEqual([count - 2, count - 1, count]);
		const caughtUp = await emitAck(sockets[sockets.length - 1], "sync", { since: { [conversationId]: 0 } });
		const entry = caughtUp.conversations.find(
			(c: { conversationId: string }) => c.conversationId === conversationId
		);
		expect(entry.messages.map((m: Message) => m.seq)).toEqual(range(count));
	}

	async function scenario(snapshot: () => Promise<unknown>, loseData: () => Promise<unknown>) {
		const [alice, bob] = [await register(api, "alice"), await register(api, "bob")];
		const id = (await alice.api.post("/api/v1/conversations/direct", { userId: bob.user.id })).body.conversation
			.id as string;
		const a = await connect(gochat.baseUrl, alice.accessToken);
		const b = await connect(gochat.baseUrl, bob.accessToken);
		sockets.push(a, b);
		for (let i = 1; i <= 3; i++) expect((await send(a, id, `before ${i}`)).ok).toBe(true);
		// Reads warm the hot cache, so the loss hits a cache that was in use.
		await bob.api.get(`/api/v1/conversations/${id}/messages?limit=5`);
		await snapshot();
		for (let i = 4; i <= 5; i++) expect((await send(a, id, `before ${i}`)).ok).toBe(true);

		await loseData();

		const sent = await send(a, id, "right after");
		expect(sent).toMatchObject({ ok: true, message: { seq: 6 } });
		await pushesReachAgain(a, b, id, "push");
		const total = (await alice.api.get(`/api/v1/conversations/${id}/messages?limit=1`)).body.messages[0]
			.seq as number;
		await everythingIsThere(bob, id, total);

		// The world room goes through the durable queue: it is fanned out again too.
		const world = nextEvent<NewMessage>(b, "message:new", e => e.message.conversationId === "world");
		await pushesReachAgain(a, b, "world", "world");
		await world;
	}

	test("restart from an older dump: every acked message is still returned, the next send succeeds, pushes and world fan-out resume", async () => {
		// Messages 4 and 5 are acked after the snapshot: the restored Redis knows nothing of them.
		await scenario(
			() => redis.admin.save(),
			async () => {
				await redis.kill();
				await redis.start();
			}
		);
	});

	test("FLUSHALL: the same", async () => {
		await scenario(
			async () => undefined,
			() => redis.admin.flushall()
		);
	});

	test("while Redis is down, sends are stored and acked or refused with a clear 503, never INTERNAL, and history answers from SQL", async () => {
		const [erin, fred] = [await register(api, "erin"), await register(api, "fred")];
		const id = (await erin.api.post("/api/v1/conversations/direct", { userId: fred.user.id })).body.conversation
			.id as string;
		const e = await connect(gochat.baseUrl, erin.accessToken);
		sockets.push(e);
		expect((await send(e, id, "before the outage")).ok).toBe(true);
		await redis.kill();
		try {
			const acks = [];
			for (let i = 0; i < 5; i++) acks.push(await send(e, id, `during ${i}`));
			for (const ack of acks)
				expect(ack.ok || ["SERVICE_UNAVAILABLE", "OVERLOADED"].includes(ack.error.code)).toBe(true);
			const history = await fred.api.get(`/api/v1/conversations/${id}/messages?limit=50`);
			expect(history.status === 200 || history.body.error.code === "SERVICE_UNAVAILABLE").toBe(true);
			if (history.status === 200) {
				const stored = history.body.messages.map((m: Message) => m.content);
				for (const ack of acks.filter(a => a.ok)) expect(stored).toContain(ack.message.content);
			}
		} finally {
			await redis.start();
		}
		// Back: everything acked during the outage is there, in order, without gaps.
		const after = await send(e, id, "after the outage");
		expect(after.ok).toBe(true);
		await everythingIsThere(fred, id, after.message.seq);
	});
});
