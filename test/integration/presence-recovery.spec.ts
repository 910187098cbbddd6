import type { Socket } from "socket.io-client";
import { startGoChat, RunningGoChat } from "../helpers/gochat";
import { Account, Api, register } from "../helpers/http";
import { PrivateRedis, redisServerAvailable, startPrivateRedis } from "../helpers/redis-server";
import { closeAll, connect, emitAck, nextEvent, record } from "../helpers/sockets";

type NewMessage = { message: { id: string; content: string; seq: number } };
type SyncRequired = { reason: string };
type Checkpoint = { intact: boolean; mark: string };

/** Resolves with `promise`, or fails naming what did not happen within `ms`. */
function within<T>(ms: number, promise: Promise<T>, what: string): Promise<T> {
	let timer: NodeJS.Timeout;
	const timeout = new Promise<never>((_, reject) => {
		timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
	});
	return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Shared by both suites: sockets and accounts on one running GoChat. */
function harness(getGochat: () => RunningGoChat) {
	const sockets: Socket[] = [];
	let counter = 0;
	return {
		sockets,
		async open(account: Account) {
			const socket = await connect(getGochat().baseUrl, account.accessToken);
			sockets.push(socket);
			return socket;
		},
		async pair(name: string) {
			const api = new Api(getGochat().baseUrl);
			const [sender, receiver] = [await register(api, `${name}_s`), await register(api, `${name}_r`)];
			const opened = await sender.api.post("/api/v1/conversations/direct", { userId: receiver.user.id });
			return { sender, receiver, conversationId: opened.body.conversation.id as string };
		},
		/**
		 * Sends over REST, every 200 ms at most and for 10 s at most, until `socket` receives one of
		 * these messages. A failed send is not this suite's business: it fails the test with its reply.
		 */
		async sendUntilPushed(sender: Account, conversationId: string, socket: Socket): Promise<NewMessage> {
			const sent = new Set<string>();
			const arrival = nextEvent<NewMessage>(socket, "message:new", e => sent.has(e.message.content));
			const deadline = Date.now() + 10_000;
			let pushed: NewMessage | null = null;
			void arrival.then(e => (pushed = e));
			while (pushed === null && Date.now() < deadline) {
				const content = `after recovery ${++counter}`;
				sent.add(content);
				const reply = await sender.api.post(`/api/v1/conversations/${conversationId}/messages`, {
					clientMsgId: `pr-${counter}`,
					type: "text",
					content
				});
				if (reply.status !== 200) throw new Error(`send failed: ${reply.status} ${JSON.stringify(reply.body)}`);
				await Promise.race([arrival, new Promise(resolve => setTimeout(resolve, 200))]);
			}
			if (pushed === null)
				throw new Error(`none of ${sent.size} message(s) sent in 10 s was pushed to the socket`);
			return pushed;
		}
	};
}

const redisAvailable = redisServerAvailable();
if (!redisAvailable)
	console.warn(
		"presence-recovery.spec: no redis-server binary (/usr/bin, /usr/local/bin); the Redis fault suite is skipped"
	);

(redisAvailable ? describe : describe.skip)("presence after Redis loses or rewinds its data", () => {
	let redis: PrivateRedis;
	let gochat: RunningGoChat;
	const h = harness(() => gochat);

	beforeAll(async () => {
		redis = await startPrivateRedis();
		// A long TTL puts the heartbeat (every TTL/3) far outside each case: only the recovery can re-register.
		gochat = await startGoChat({ REDIS_URL: redis.url, REDIS_PREFIX: "t:", PRESENCE_TTL: "600" });
	});
	afterEach(() => closeAll(h.sockets.splice(0)));
	afterAll(async () => {
		await gochat?.stop();
		await redis?.stop();
	});

	const checkpoint = (mark: string): Promise<Checkpoint> =>
		gochat.broker.call("repo.presence.checkpoint", { nodeId: "probe-gateway", mark });

	test("after FLUSHALL the gateway re-registers its users, asks its sockets to sync, and pushes reach them again", async () => {
		const { sender, receiver, conversationId } = await h.pair("flush");
		const socket = await h.open(receiver);
		const before = await h.sendUntilPushed(sender, conversationId, socket);
		const told = record<SyncRequired>(socket, "sync:required");
		const syncRequired = nextEvent<SyncRequired>(socket, "sync:required");

		await redis.admin.flushall();

		expect(await within(15_000, syncRequired, "sync:required after FLUSHALL")).toEqual({ reason: "presence-lost" });
		const synced = await emitAck(socket, "sync", { since: { [conversationId]: 0 } });
		expect(synced.conversations[0].messages.map((m: { id: string }) => m.id)).toContain(before.message.id);
		await h.sendUntilPushed(sender, conversationId, socket);
		expect(told).toEqual([{ reason: "presence-lost" }]);
	});

	test("after a restart from an older snapshot, users who connected since it are found again", async () => {
		const { sender, receiver, conversationId } = await h.pair("restore");
		const early = await h.open(receiver);
		await redis.admin.save();
		// Connected after the snapshot: their presence is not in the dump the server restarts from.
		const late = await h.open(receiver);
		const senderSocket = await h.open(sender);
		const told = [late, early, senderSocket].map(socket => record<SyncRequired>(socket, "sync:required"));
		const syncRequired = Promise.all(
			[late, early, senderSocket].map(socket => nextEvent<SyncRequired>(socket, "sync:required"))
		);

		await redis.kill();
		await redis.start();

		await within(15_000, syncRequired, "sync:required on every socket of the node after the restore");
		await h.sendUntilPushed(sender, conversationId, late);
		for (const log of told) expect(log).toEqual([{ reason: "presence-lost" }]);
	});

	test("a checkpoint is intact only with the last mark, on the same server instance", async () => {
		const first = await checkpoint("");
		expect(first.intact).toBe(false);
		const second = await checkpoint(first.mark);
		expect(second.intact).toBe(true);
		expect(second.mark).not.toBe(first.mark);
		// An older mark (a snapshot from before the last checkpoint) is not the one found.
		expect((await checkpoint(first.mark)).intact).toBe(false);
	});

	test("a restart from a snapshot that holds the newest mark is still noticed", async () => {
		const { mark } = await checkpoint("");
		await redis.admin.save();
		await redis.kill();
		await redis.start();
		const stored = await redis.admin.get("t:presence:mark:probe-gateway");
		expect(mark.endsWith(`.${stored}`)).toBe(true);
		expect((await checkpoint(mark)).intact).toBe(false);
	});
});

describe("sync:required on the embedded store", () => {
	let gochat: RunningGoChat;
	const h = harness(() => gochat);
	const gateway = () => gochat.broker.getLocalService("api") as unknown as { checkPresence(): Promise<void> };

	beforeAll(async () => {
		gochat = await startGoChat({ REDIS_URL: "", PRESENCE_TTL: "600" });
	});
	afterEach(() => closeAll(h.sockets.splice(0)));
	afterAll(() => gochat?.stop());

	// Socket.IO keeps order per socket: a push that arrives after a check shows that the check sent nothing before it.

	test("while presence stays intact, checks pass and sockets are not asked to sync", async () => {
		const { sender, receiver, conversationId } = await h.pair("steady");
		const socket = await h.open(receiver);
		const told = record<SyncRequired>(socket, "sync:required");
		const first = await gochat.broker.call<Checkpoint, object>("repo.presence.checkpoint", {
			nodeId: "probe-embedded",
			mark: ""
		});
		expect(
			(
				await gochat.broker.call<Checkpoint, object>("repo.presence.checkpoint", {
					nodeId: "probe-embedded",
					mark: first.mark
				})
			).intact
		).toBe(true);
		await gateway().checkPresence();
		await gateway().checkPresence();
		await h.sendUntilPushed(sender, conversationId, socket);
		expect(told).toEqual([]);
	});

	test("the transporter reconnecting asks every socket to sync, once", async () => {
		const { sender, receiver, conversationId } = await h.pair("transporter");
		const socket = await h.open(receiver);
		const told = record<SyncRequired>(socket, "sync:required");
		gochat.broker.broadcastLocal("$transporter.connected", { wasReconnect: false });
		await gateway().checkPresence();
		await h.sendUntilPushed(sender, conversationId, socket);
		expect(told).toEqual([]);

		const syncRequired = nextEvent<SyncRequired>(socket, "sync:required");
		gochat.broker.broadcastLocal("$transporter.connected", { wasReconnect: true });
		expect(await within(15_000, syncRequired, "sync:required after a transporter reconnect")).toEqual({
			reason: "transporter-reconnected"
		});
		await gateway().checkPresence();
		await h.sendUntilPushed(sender, conversationId, socket);
		expect(told).toEqual([{ reason: "transporter-reconnected" }]);
	});

	test("a logic node that vanished asks every socket to sync; a repo node or a graceful stop does not", async () => {
		const { sender, receiver, conversationId } = await h.pair("node");
		const socket = await h.open(receiver);
		const told = record<SyncRequired>(socket, "sync:required");
		gochat.broker.broadcastLocal("$node.disconnected", {
			node: { id: "gone-repo", services: [{ name: "repo.users" }] },
			unexpected: true
		});
		gochat.broker.broadcastLocal("$node.disconnected", {
			node: { id: "stopped-logic", services: [{ name: "delivery" }] },
			unexpected: false
		});
		await gateway().checkPresence();
		await h.sendUntilPushed(sender, conversationId, socket);
		expect(told).toEqual([]);

		const syncRequired = nextEvent<SyncRequired>(socket, "sync:required");
		gochat.broker.broadcastLocal("$node.disconnected", {
			node: { id: "gone-logic", services: [{ name: "delivery" }] },
			unexpected: true
		});
		expect(await within(15_000, syncRequired, "sync:required after a logic node vanished")).toEqual({
			reason: "node-lost"
		});
		await gateway().checkPresence();
		await h.sendUntilPushed(sender, conversationId, socket);
		expect(told).toEqual([{ reason: "node-lost" }]);
	});
});
