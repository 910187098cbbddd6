import crypto from "crypto";
import { shutdown } from "../../lib/health/shutdown";
import { GoChatClient } from "../../client/src/client";
import { WebStorageOutboxStore } from "../../client/src/outbox-store";
import { MemoryTokenStore } from "../../client/src/token-store";
import type { ChatMessage, ClientEvents } from "../../client/src/types";
import { RunningGoChat, startGoChat } from "../helpers/gochat";
import { Api } from "../helpers/http";
import { until } from "../helpers/wait";

/**
 * The SDK (client/) against a real GoChat on a real port: two clients converse, the outbox survives
 * reconnects and a gateway restart, and refusals surface as failed messages with their code.
 */

const clients: GoChatClient[] = [];

/** localStorage / sessionStorage as a Map, for the stores of a client running in Node. */
class MapStorage {
	private readonly map = new Map<string, string>();
	getItem = (key: string) => this.map.get(key) ?? null;
	setItem = (key: string, value: string) => void this.map.set(key, value);
	removeItem = (key: string) => void this.map.delete(key);
}

function newClient(baseUrl: string, extra: Partial<ConstructorParameters<typeof GoChatClient>[0]> = {}) {
	const client = new GoChatClient({ baseUrl, reconnectDelayMs: 100, reconnectDelayMaxMs: 500, ...extra });
	clients.push(client);
	return client;
}

async function signedUp(baseUrl: string, name: string, extra = {}): Promise<GoChatClient> {
	const client = newClient(baseUrl, extra);
	await client.register({
		username: `${name}_${crypto.randomBytes(4).toString("hex")}`,
		password: "correct horse",
		displayName: name
	});
	return client;
}

/** Resolves once `check()` holds, looking again at each `event` of the client (SDK events, no polling). */
function when<E extends keyof ClientEvents>(
	client: GoChatClient,
	event: E,
	check: () => boolean,
	what: string,
	timeoutMs = 15_000
): Promise<void> {
	if (check()) return Promise.resolve();
	return new Promise((resolve, reject) => {
		const timer = setTimeout(() => {
			off();
			reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
		}, timeoutMs);
		const off = client.on(event, () => {
			if (!check()) return;
			clearTimeout(timer);
			off();
			resolve();
		});
	});
}

const sent = (client: GoChatClient, conversationId: string) =>
	client.messages(conversationId).filter(m => m.status === "sent");
const contents = (messages: ChatMessage[]) => messages.map(m => m.content);

/** No duplicate ids or clientMsgIds, seqs 1..N without a gap. */
function expectWhole(messages: ChatMessage[]): void {
	const stored = messages.filter(m => m.status === "sent");
	expect(stored.map(m => m.seq)).toEqual(stored.map((_, i) => i + 1));
	expect(new Set(stored.map(m => m.id)).size).toBe(stored.length);
	expect(new Set(messages.map(m => m.clientMsgId)).size).toBe(messages.length);
}

afterEach(() => {
	for (const client of clients.splice(0)) client.disconnect();
});

describe("SDK clients on one GoChat", () => {
	let gochat: RunningGoChat;

	beforeAll(async () => {
		gochat = await startGoChat();
	});

	afterAll(async () => {
		await gochat?.stop();
	});

	test("a peer online before you connected shows online at once (the presence snapshot), then follows the events", async () => {
		const alice = await signedUp(gochat.baseUrl, "alice");
		const bob = await signedUp(gochat.baseUrl, "bob");
		const bobId = bob.user!.id;
		await alice.openDirect(bobId);
		await bob.connect();
		await alice.connect();
		await when(alice, "presence", () => alice.isOnline(bobId) === true, "bob online after alice connected");
		bob.disconnect();
		await when(alice, "presence", () => alice.isOnline(bobId) === false, "bob offline once he disconnected");
	});

	test("two clients converse in a 1:1 and a group: each message once, in seq order, unread counts right", async () => {
		const alice = await signedUp(gochat.baseUrl, "alice");
		const bob = await signedUp(gochat.baseUrl, "bob");
		await Promise.all([alice.connect(), bob.connect()]);
		expect(alice.connectionState).toBe("connected");
		const direct = await alice.openDirect(bob.user!.id);
		expect(direct).toMatchObject({ type: "direct", lastSeq: 0, unreadCount: 0 });

		for (const text of ["a1", "a2", "a3"]) alice.send(direct.id, text);
		expect(alice.messages(direct.id).map(m => m.status)).toEqual(["pending", "pending", "pending"]);
		await when(bob, "message", () => sent(bob, direct.id).length === 3, "bob to get alice's three messages");
		expect(contents(bob.messages(direct.id))).toEqual(["a1", "a2", "a3"]);
		expect(bob.conversations().find(c => c.id === direct.id)).toMatchObject({ lastSeq: 3, unreadCount: 3 });
		// The row bob got from a push is named once the REST list came.
		await when(
			bob,
			"conversations",
			() => bob.conversations().some(c => c.id === direct.id && c.title === "alice"),
			"the row's title"
		);

		bob.send(direct.id, "b1");
		await when(alice, "message", () => sent(alice, direct.id).length === 4, "alice to get bob's reply");
		await when(bob, "message", () => sent(bob, direct.id).length === 4, "bob's reply to be acked");
		for (const client of [alice, bob]) {
			expect(contents(client.messages(direct.id))).toEqual(["a1", "a2", "a3", "b1"]);
			expectWhole(client.messages(direct.id));
		}
		// Sending moves your own read position: bob read up to his reply, alice has it unread.
		expect(bob.conversations().find(c => c.id === direct.id)).toMatchObject({ readSeq: 4, unreadCount: 0 });
		expect(alice.conversations().find(c => c.id === direct.id)).toMatchObject({ readSeq: 3, unreadCount: 1 });
		const read = new Promise<ClientEvents["read"]>(resolve => alice.once("read", resolve));
		await alice.markRead(direct.id);
		expect(await read).toEqual({ conversationId: direct.id, readSeq: 4, unreadCount: 0 });

		// A group: bob learns of it from its first message, and the list gives its title.
		const { conversation: group, refused } = await alice.createGroup("trip", [bob.user!.id]);
		expect(refused).toEqual([]);
		alice.send(group.id, "g1");
		bob.send(direct.id, "b2");
		await when(
			bob,
			"conversations",
			() => bob.conversations().some(c => c.id === group.id && c.title === "trip"),
			"bob's group row"
		);
		await when(bob, "message", () => sent(bob, group.id).length === 1, "the group message");
		expect(bob.conversations().find(c => c.id === group.id)).toMatchObject({
			type: "group",
			lastSeq: 1,
			unreadCount: 1
		});
		bob.send(group.id, "g2");
		await when(alice, "message", () => sent(alice, group.id).length === 2, "bob's group reply");
		await when(alice, "message", () => sent(alice, direct.id).length === 5, "b2");
		expect(contents(alice.messages(group.id))).toEqual(["g1", "g2"]);
		expect(alice.conversations().find(c => c.id === group.id)).toMatchObject({ readSeq: 1, unreadCount: 1 });
		expectWhole(alice.messages(group.id));
	});

	test("the outbox survives a reconnect: sent while disconnected, delivered once after it", async () => {
		const alice = await signedUp(gochat.baseUrl, "alice");
		const bob = await signedUp(gochat.baseUrl, "bob");
		await Promise.all([alice.connect(), bob.connect()]);
		const direct = await alice.openDirect(bob.user!.id);

		bob.disconnect();
		expect(bob.connectionState).toBe("disconnected");
		const offline = ["while away 1", "while away 2", "while away 3"].map(text => bob.send(direct.id, text));
		expect(offline.map(m => m.status)).toEqual(["pending", "pending", "pending"]);
		alice.send(direct.id, "are you there?");
		await when(alice, "message", () => sent(alice, direct.id).length === 1, "alice's message acked");
		expect(bob.messages(direct.id).map(m => m.status)).toEqual(["pending", "pending", "pending"]);

		const synced = new Promise<ClientEvents["synced"]>(resolve => bob.once("synced", resolve));
		await bob.connect();
		expect((await synced).messages).toBeGreaterThanOrEqual(1);
		await when(bob, "message", () => sent(bob, direct.id).length === 4, "bob's outbox to drain");
		await when(alice, "message", () => sent(alice, direct.id).length === 4, "alice to get bob's messages");
		for (const client of [alice, bob]) {
			expectWhole(client.messages(direct.id));
			expect(contents(client.messages(direct.id))).toEqual(["are you there?", ...offline.map(m => m.content)]);
		}
		// Each keeps its clientMsgId: the pending message became the stored one.
		expect(
			sent(bob, direct.id)
				.slice(1)
				.map(m => m.clientMsgId)
		).toEqual(offline.map(m => m.clientMsgId));
		const history = await bob.api.messages.history(direct.id);
		expect(history.messages.map(m => m.content)).toEqual(contents(bob.messages(direct.id)));
	});

	test("unsent messages outlive a reload: the next client sends them once, even one the server stored just before", async () => {
		const alice = await signedUp(gochat.baseUrl, "alice");
		const tokenStore = new MemoryTokenStore();
		const outboxStore = new WebStorageOutboxStore(new MapStorage());
		const bob = await signedUp(gochat.baseUrl, "bob", { tokenStore, outboxStore });
		const bobId = bob.user!.id;
		await Promise.all([alice.connect(), bob.connect()]);
		const direct = await alice.openDirect(bobId);

		bob.disconnect();
		const offline = ["written offline 1", "written offline 2"].map(text => bob.send(direct.id, text));
		// The page closed between the server storing a message and its ack: stored, yet still in the saved outbox.
		const stored = await bob.api.messages.send({
			conversationId: direct.id,
			clientMsgId: "stored-before-reload",
			type: "text",
			content: "stored before the reload"
		});
		const lostAck: ChatMessage = {
			...offline[0],
			clientMsgId: "stored-before-reload",
			content: stored.message.content
		};
		outboxStore.save(bobId, [lostAck, ...outboxStore.load(bobId)]);
		bob.dispose();

		const reloaded = newClient(gochat.baseUrl, { tokenStore, outboxStore });
		expect((await reloaded.restore())?.id).toBe(bobId);
		expect(reloaded.messages(direct.id).map(m => [m.content, m.status])).toEqual([
			["stored before the reload", "pending"],
			["written offline 1", "pending"],
			["written offline 2", "pending"]
		]);
		await reloaded.connect();
		const expected = ["stored before the reload", "written offline 1", "written offline 2"];
		await when(reloaded, "message", () => sent(reloaded, direct.id).length === 3, "the saved outbox to drain");
		await when(alice, "message", () => sent(alice, direct.id).length === 3, "alice to get bob's messages");
		for (const client of [alice, reloaded]) {
			expectWhole(client.messages(direct.id));
			expect(contents(client.messages(direct.id))).toEqual(expected);
		}
		expect(sent(reloaded, direct.id)[0].id).toBe(stored.message.id);
		expect(outboxStore.load(bobId)).toEqual([]);
		const history = await reloaded.api.messages.history(direct.id);
		expect(history.messages.map(m => m.content)).toEqual(expected);
	});

	test("signing in as another user on a connected client: the old user's messages no longer arrive there", async () => {
		const bobName = `bob_${crypto.randomBytes(4).toString("hex")}`;
		const device = await signedUp(gochat.baseUrl, "alice");
		const carol = await signedUp(gochat.baseUrl, "carol");
		const bob = newClient(gochat.baseUrl);
		await bob.register({ username: bobName, password: "correct horse", displayName: "bob" });
		await Promise.all([device.connect(), bob.connect(), carol.connect()]);
		const aliceRoom = await carol.openDirect(device.user!.id);
		const bobRoom = await carol.openDirect(bob.user!.id);

		await device.login(bobName, "correct horse");
		await when(device, "connection", () => device.connectionState === "connected", "the socket back, as bob");
		expect(device.user?.username).toBe(bobName);

		carol.send(aliceRoom.id, "for alice only");
		await when(carol, "message", () => sent(carol, aliceRoom.id).length === 1, "carol's message to alice stored");
		carol.send(bobRoom.id, "for bob");
		await when(device, "message", () => sent(device, bobRoom.id).length === 1, "carol's message on bob's device");
		expect(device.messages(aliceRoom.id)).toEqual([]);
		expect(device.conversations().map(c => c.id)).not.toContain(aliceRoom.id);
	});

	test("refused sends fail with their code; retry() and discard() act on them", async () => {
		const alice = await signedUp(gochat.baseUrl, "alice");
		const bob = await signedUp(gochat.baseUrl, "bob");
		await alice.connect();
		const direct = await alice.openDirect(bob.user!.id);
		const failed = (m: ChatMessage) => () =>
			alice.messages(m.conversationId).some(x => x.clientMsgId === m.clientMsgId && x.status === "failed");

		const big = alice.send(direct.id, "x".repeat(gochat.config.messageMaxBytes + 1));
		const stranger = alice.send("group_999", "hello?");
		const fine = alice.send(direct.id, "small");
		await when(alice, "message", failed(big), "the large message to fail");
		await when(alice, "message", failed(stranger), "the stranger's message to fail");
		await when(alice, "message", () => sent(alice, direct.id).length === 1, "the small one to go");
		const byId = (m: ChatMessage) => alice.messages(m.conversationId).find(x => x.clientMsgId === m.clientMsgId);
		expect(byId(big)?.error?.code).toBe("MESSAGE_TOO_LARGE");
		expect(byId(stranger)?.error?.code).toBe("CONVERSATION_NOT_FOUND");
		expect(byId(fine)).toMatchObject({ status: "sent", seq: 1 });
		// Failed ones stay after the stored ones.
		expect(alice.messages(direct.id).map(m => m.status)).toEqual(["sent", "failed"]);

		expect(alice.retry(stranger.clientMsgId)).toBe(true);
		expect(byId(stranger)?.status).toBe("pending");
		await when(alice, "message", failed(stranger), "the retried message to fail again");
		const removed = new Promise<ClientEvents["message:removed"]>(resolve => alice.once("message:removed", resolve));
		expect(alice.discard(big.clientMsgId)).toBe(true);
		expect(await removed).toEqual({ conversationId: direct.id, clientMsgId: big.clientMsgId });
		expect(alice.messages(direct.id).map(m => m.content)).toEqual(["small"]);
	});
});

describe("SDK send rate", () => {
	let gochat: RunningGoChat;

	beforeAll(async () => {
		gochat = await startGoChat({ SEND_RATE_SOCKET: "2/1m" });
	});

	afterAll(async () => {
		await gochat?.stop();
	});

	test("a send refused with RATE_LIMITED past the retry bound fails with RATE_LIMITED", async () => {
		const alice = await signedUp(gochat.baseUrl, "alice", { maxSendRetries: 0 });
		await alice.connect();
		const messages = ["one", "two", "three"].map(text => alice.send("world", text));
		await when(
			alice,
			"message",
			() => alice.messages("world").every(m => m.status !== "pending"),
			"every send answered"
		);
		expect(alice.messages("world").map(m => [m.content, m.status, m.error?.code])).toEqual([
			["one", "sent", undefined],
			["two", "sent", undefined],
			["three", "failed", "RATE_LIMITED"]
		]);
		expect((alice.messages("world")[2].error?.details as { retryAfter: number }).retryAfter).toBeGreaterThan(0);
		expect(messages[2].clientMsgId).toBe(alice.messages("world")[2].clientMsgId);
	});
});

describe("SDK clients through a gateway restart", () => {
	let backend: RunningGoChat;
	let gateway: RunningGoChat | null = null;

	beforeAll(async () => {
		backend = await startGoChat({ SERVICES: "logic,repo,task" }, { cluster: true });
	});

	afterAll(async () => {
		await gateway?.stop();
		await backend?.stop();
	});

	async function startGateway(port = 0): Promise<RunningGoChat> {
		const node = await startGoChat({ SERVICES: "gateway", PORT: String(port) }, { join: backend });
		await until(async () => (await new Api(node.baseUrl).get("/ready")).status === 200, "the gateway to be ready");
		return node;
	}

	test("both keep sending while the gateway stops and a new one starts: nothing lost, nothing doubled", async () => {
		gateway = await startGateway();
		const { baseUrl } = gateway;
		const port = Number(new URL(baseUrl).port);
		const alice = await signedUp(baseUrl, "alice");
		const bob = await signedUp(baseUrl, "bob");
		await Promise.all([alice.connect(), bob.connect()]);
		const direct = await alice.openDirect(bob.user!.id);

		let sending = true;
		const loop = async (client: GoChatClient, tag: string) => {
			for (let i = 0; sending; i++) {
				client.send(direct.id, `${tag} ${i}`);
				// At most three under way: the loop goes on while the gateway is down, the outbox holds them.
				await until(
					() => !sending || client.messages(direct.id).filter(m => m.status === "pending").length < 3,
					"room in the outbox",
					{ everyMs: 10 }
				);
			}
		};
		const loops = [loop(alice, "alice"), loop(bob, "bob")];
		await when(bob, "message", () => sent(bob, direct.id).length >= 10, "traffic before the restart");

		const reconnecting = Promise.all(
			[alice, bob].map(c => when(c, "connection", () => c.connectionState === "reconnecting", "the drop"))
		);
		await shutdown(gateway.broker, 5000);
		await gateway.stop();
		gateway = null;
		await reconnecting;
		const pendingWhileDown = Promise.all(
			[alice, bob].map(c =>
				when(c, "message", () => c.messages(direct.id).some(m => m.status === "pending"), "sends while down")
			)
		);
		await pendingWhileDown;

		gateway = await startGateway(port);
		await Promise.all(
			[alice, bob].map(c => when(c, "connection", () => c.connectionState === "connected", "the reconnect"))
		);
		const before = sent(alice, direct.id).length;
		await when(alice, "message", () => sent(alice, direct.id).length >= before + 6, "traffic after the restart");
		sending = false;
		await Promise.all(loops);
		const drained = (c: GoChatClient) => () => c.messages(direct.id).every(m => m.status === "sent");
		await Promise.all([alice, bob].map(c => when(c, "message", drained(c), "the outboxes to drain")));

		const history: ChatMessage[] = [];
		for (let page = await alice.api.messages.history(direct.id, { afterSeq: 0, limit: 200 }); ;) {
			history.push(...page.messages.map(m => ({ ...m, status: "sent" as const })));
			if (!page.hasMore) break;
			page = await alice.api.messages.history(direct.id, {
				afterSeq: history[history.length - 1].seq!,
				limit: 200
			});
		}
		const sameAsHistory = (c: GoChatClient) => () => c.messages(direct.id).length === history.length;
		await Promise.all(
			[alice, bob].map(c => when(c, "message", sameAsHistory(c), "every stored message on each client"))
		);
		expectWhole(history);
		for (const client of [alice, bob]) {
			const held = client.messages(direct.id);
			expectWhole(held);
			expect(held.map(m => [m.id, m.seq, m.clientMsgId])).toEqual(history.map(m => [m.id, m.seq, m.clientMsgId]));
		}
		// Each client's messages went out in send order, each exactly once.
		for (const tag of ["alice", "bob"]) {
			const mine = history.filter(m => m.content.startsWith(`${tag} `)).map(m => Number(m.content.split(" ")[1]));
			expect(mine).toEqual(mine.map((_, i) => i));
		}
	}, 60_000);
});
