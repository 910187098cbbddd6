import type { Socket } from "socket.io-client";
import { shutdown, ShutdownOutcome } from "../../lib/health/shutdown";
import { RunningGoChat, startGoChat } from "../helpers/gochat";
import { Account, Api, register } from "../helpers/http";
import { connect, emitAck } from "../helpers/sockets";
import { until } from "../helpers/wait";

type Ack = { ok: boolean; message?: { id: string; clientMsgId: string }; error?: { code: string } };
type Synced = { id: string; conversationId: string; seq: number; clientMsgId: string; senderId: string };

const SENDERS = 6;
const SENDS_AT_ONCE = 2;
const SHUTDOWN_TIMEOUT_MS = 10_000;
/** How long a send takes on node A, as with a slow database: sends are still under way when B drains. */
const SEND_LATENCY_MS = 300;

/** Makes every messages.send served by `broker` take `ms` longer (wrapping the handler its endpoint calls). */
function slowDownSends(gochat: RunningGoChat, ms: number): void {
	const registry = gochat.broker.registry as unknown as {
		getActionEndpoints(name: string): {
			localEndpoints: Array<{ action: { handler(ctx: unknown): Promise<unknown> } }>;
		};
	};
	const action = registry.getActionEndpoints("messages.send").localEndpoints[0].action;
	const handler = action.handler;
	action.handler = async ctx => {
		await new Promise(resolve => setTimeout(resolve, ms));
		return handler(ctx);
	};
}

/** Every message of the conversations listed, from seq 1 on, paging through sync as docs/realtime.md says. */
async function syncAll(socket: Socket, conversationIds: string[]): Promise<Synced[]> {
	const since: Record<string, number> = Object.fromEntries(conversationIds.map(id => [id, 0]));
	const messages: Synced[] = [];
	let cursor: string | undefined;
	for (;;) {
		const reply = await emitAck(socket, "sync", { since, cursor });
		if (!reply.ok) throw new Error(`sync failed: ${JSON.stringify(reply.error)}`);
		for (const entry of reply.conversations as Array<{ conversationId: string; messages: Synced[] }>) {
			messages.push(...entry.messages);
			since[entry.conversationId] = entry.messages[entry.messages.length - 1].seq;
		}
		if (reply.nextCursor === null) return messages;
		cursor = reply.nextCursor;
	}
}

/**
 * A client as docs/realtime.md describes it: sends with an ack callback, acks `server:shutdown`
 * and stops sending on it, reconnects (here, to the other gateway) when its socket ends, and
 * resends what a draining gateway refused with the same clientMsgId.
 */
class Client {
	socket!: Socket;
	emitted = 0;
	answered = 0;
	/** clientMsgId → the acked message's ID and conversation. */
	readonly acked = new Map<string, { id: string; conversationId: string }>();
	readonly refused: Array<Record<string, string>> = [];
	shutdownNotices = 0;
	disconnectReason: string | null = null;
	private counter = 0;
	private sending = true;

	constructor(
		readonly account: Account,
		readonly conversations: string[]
	) {}

	async connectTo(baseUrl: string): Promise<void> {
		this.socket = await connect(baseUrl, this.account.accessToken);
		this.socket.on("server:shutdown", (_notice: { reconnectInMs: number }, ack?: () => void) => {
			this.shutdownNotices++;
			this.sending = false;
			ack?.();
		});
		this.socket.once("disconnect", reason => {
			this.disconnectReason = reason;
		});
	}

	/** One send; its ack callback must come, whatever happens to the gateway. */
	send(payload: Record<string, string>): Promise<void> {
		this.emitted++;
		return new Promise(resolve => {
			this.socket.emit("message:send", payload, (reply: Ack) => {
				this.answered++;
				if (reply.ok)
					this.acked.set(payload.clientMsgId, {
						id: reply.message!.id,
						conversationId: payload.conversationId
					});
				else if (reply.error?.code === "SERVICE_UNAVAILABLE") this.refused.push(payload);
				else throw new Error(`unexpected refusal ${JSON.stringify(reply)}`);
				resolve();
			});
		});
	}

	async loop(): Promise<void> {
		while (this.sending && this.socket.connected) {
			const n = ++this.counter;
			await this.send({
				conversationId: this.conversations[n % this.conversations.length],
				clientMsgId: `${this.account.user.id}-${n}`,
				type: "text",
				content: `message ${n} of ${this.account.user.username}`
			});
		}
	}

	async resendRefused(): Promise<void> {
		for (const payload of this.refused.splice(0)) {
			const reply: Ack = await emitAck(this.socket, "message:send", payload);
			expect(reply.ok).toBe(true);
			this.acked.set(payload.clientMsgId, { id: reply.message!.id, conversationId: payload.conversationId });
		}
	}
}

/**
 * A gateway stopped under traffic: node A runs every service, node B only a gateway. Clients on B
 * send in a loop (1:1 and a group) while B shuts down as SIGTERM does it. Every send is answered,
 * every client is told to reconnect and does (to A), and `sync` then holds every acked message
 * exactly once.
 */
describe("graceful shutdown of a gateway under traffic", () => {
	let a: RunningGoChat;
	let b: RunningGoChat;
	let bStopped = false;
	const sockets: Socket[] = [];

	beforeAll(async () => {
		a = await startGoChat({}, { cluster: true });
		b = await startGoChat(
			{ SERVICES: "gateway", SHUTDOWN_TIMEOUT: String(SHUTDOWN_TIMEOUT_MS / 1000) },
			{ join: a }
		);
		await until(async () => (await new Api(b.baseUrl).get("/ready")).status === 200, "gateway B to be ready");
	});

	afterAll(async () => {
		for (const socket of sockets) socket.close();
		if (!bStopped) await b?.stop();
		await a?.stop();
	});

	test("no acked message is lost, no send goes unanswered, and every client reconnects and catches up", async () => {
		const api = new Api(a.baseUrl);
		const accounts = await Promise.all(Array.from({ length: SENDERS + 1 }, (_, i) => register(api, `drain${i}`)));
		const [watcher, ...senders] = accounts;
		const created = await senders[0].api.post("/api/v1/groups", {
			name: "drain",
			memberIds: [...senders.slice(1), watcher].map(s => s.user.id)
		});
		expect(created.status).toBe(201);
		expect(created.body.refused).toEqual([]);
		const group = created.body.group.conversationId as string;
		// Each sender talks to the next one, and to the group.
		const directs = await Promise.all(
			senders.map(async (s, i) => {
				const res = await s.api.post("/api/v1/conversations/direct", {
					userId: senders[(i + 1) % SENDERS].user.id
				});
				return res.body.conversation.id as string;
			})
		);
		const clients = senders.map((s, i) => new Client(s, [group, directs[i], directs[(i + SENDERS - 1) % SENDERS]]));
		await Promise.all(clients.map(c => c.connectTo(b.baseUrl)));
		const watcherSocket = await connect(a.baseUrl, watcher.accessToken);
		sockets.push(watcherSocket, ...clients.map(c => c.socket));

		clients.flatMap(c => Array.from({ length: SENDS_AT_ONCE }, () => c.loop()));
		await until(() => clients.every(c => c.acked.size >= 3), "traffic on gateway B");
		slowDownSends(a, SEND_LATENCY_MS);
		await until(() => clients.every(c => c.emitted - c.answered === SENDS_AT_ONCE), "slow sends under way");

		// What SIGTERM runs in server.ts.
		const stopping: Promise<ShutdownOutcome> = shutdown(b.broker, SHUTDOWN_TIMEOUT_MS);
		const outcome = await stopping;
		bStopped = true;
		// A send left without its ack would hang its loop forever: give the last acks a moment, then count.
		await until(() => clients.every(c => c.answered === c.emitted), "every send to be answered", {
			timeoutMs: 3000,
			everyMs: 20
		}).catch(() => undefined);

		expect(clients.map(c => c.emitted - c.answered)).toEqual(clients.map(() => 0));
		expect(outcome).toMatchObject({ clean: true, pending: [] });
		expect(outcome.elapsedMs).toBeLessThan(SHUTDOWN_TIMEOUT_MS);
		for (const c of clients) {
			expect(c.shutdownNotices).toBe(1);
			// Closed without a Socket.IO disconnect, so a client's own reconnection would try again.
			expect(c.disconnectReason).toBe("transport close");
			expect(c.answered).toBe(c.emitted);
		}

		// Each client reconnects, to A, resends what B refused, and catches up.
		await Promise.all(clients.map(c => c.connectTo(a.baseUrl)));
		sockets.push(...clients.map(c => c.socket));
		await Promise.all(clients.map(c => c.resendRefused()));

		for (const c of clients) {
			const synced = await syncAll(c.socket, c.conversations);
			const ids = synced.map(m => m.id);
			expect(new Set(ids).size).toBe(ids.length);
			for (const { id } of c.acked.values()) expect(ids).toContain(id);
			// Stored once per clientMsgId, resends included; and no gap in any conversation.
			const keys = synced.map(m => `${m.senderId}/${m.clientMsgId}`);
			expect(new Set(keys).size).toBe(keys.length);
			for (const conversationId of c.conversations) {
				const seqs = synced.filter(m => m.conversationId === conversationId).map(m => m.seq);
				expect(seqs).toEqual(seqs.map((_, k) => k + 1));
			}
		}
		const watcherSees = (await syncAll(watcherSocket, [group])).map(m => m.id);
		expect(new Set(watcherSees).size).toBe(watcherSees.length);
		for (const c of clients)
			for (const { id, conversationId } of c.acked.values())
				if (conversationId === group) expect(watcherSees).toContain(id);
		const totalAcked = clients.reduce((sum, c) => sum + c.acked.size, 0);
		expect(totalAcked).toBeGreaterThanOrEqual(SENDERS * 3);
	}, 60_000);
});
