import type { Socket } from "socket.io-client";
import { startGoChat, RunningGoChat } from "../helpers/gochat";
import { Account, Api, register } from "../helpers/http";
import { closeAll, connect, emitAck } from "../helpers/sockets";

type Ack = {
	ok: boolean;
	message?: { id: string; seq: number };
	error?: { code: string; message: string; details?: { retryAfter?: number } };
};

const FLOOD_IN_FLIGHT = 300;
const PER_USER_QUEUE = 32;
const POLITE_SENDS = 30;

const direct = async (a: Account, b: Account) =>
	(await a.api.post("/api/v1/conversations/direct", { userId: b.user.id })).body.conversation.id as string;
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** Sends one message at a time, as a person would, and returns each ack's latency in ms. */
async function politeSends(socket: Socket, conversationId: string, prefix: string): Promise<number[]> {
	const latencies: number[] = [];
	for (let n = 0; n < POLITE_SENDS; n++) {
		const started = performance.now();
		const ack = await emitAck<Ack>(socket, "message:send", {
			conversationId,
			clientMsgId: `${prefix}-${n}`,
			type: "text",
			content: "hello"
		});
		latencies.push(performance.now() - started);
		expect(ack).toMatchObject({ ok: true });
	}
	return latencies;
}

/**
 * A client that keeps FLOOD_IN_FLIGHT sends outstanding: each accepted send is replaced at once;
 * a refused one is sent again after the retryAfter the server asked for.
 */
function flood(socket: Socket, conversationId: string) {
	const tally = { accepted: 0, refusals: [] as Ack["error"][], firstBurstRefused: 0 };
	let next = 0;
	let stop!: () => void;
	const stopped = new Promise<void>(resolve => {
		stop = resolve;
	});
	let running = true;
	void stopped.then(() => {
		running = false;
	});
	const sendOne = async (firstBurst: boolean): Promise<void> => {
		if (!running) return;
		const ack = await emitAck<Ack>(socket, "message:send", {
			conversationId,
			clientMsgId: `flood-${next++}`,
			type: "text",
			content: "spam"
		});
		if (ack.ok) {
			tally.accepted++;
			return sendOne(false);
		}
		tally.refusals.push(ack.error);
		if (firstBurst) tally.firstBurstRefused++;
		let timer: NodeJS.Timeout | undefined;
		await Promise.race([
			stopped,
			new Promise(resolve => {
				timer = setTimeout(resolve, (ack.error?.details?.retryAfter ?? 1) * 1000);
			})
		]);
		clearTimeout(timer);
		return sendOne(false);
	};
	const senders = Array.from({ length: FLOOD_IN_FLIGHT }, () => sendOne(true));
	return {
		tally,
		/** Stops sending and waits for every outstanding ack. */
		async stop() {
			stop();
			await Promise.all(senders);
		}
	};
}

describe("fair sends: one user's flood delays only that user", () => {
	let gochat: RunningGoChat;
	let api: Api;
	const sockets: Socket[] = [];

	beforeAll(async () => {
		// Few slots so the waiting room matters; the rate limits off so only scheduling is measured.
		gochat = await startGoChat({
			SEND_CONCURRENCY: "4",
			SEND_QUEUE_PER_USER: String(PER_USER_QUEUE),
			SEND_RATE_SOCKET: "off",
			SEND_RATE_USER: "off"
		});
		api = new Api(gochat.baseUrl);
	});
	afterAll(async () => {
		closeAll(sockets);
		await gochat.stop();
	});

	test(`a polite sender keeps its latency beside a user with ${FLOOD_IN_FLIGHT} sends in flight, who is RATE_LIMITED past its queue and never gets a 500`, async () => {
		const [flooder, polite, friend] = [
			await register(api, "flooder"),
			await register(api, "polite"),
			await register(api, "friend")
		];
		const [floodChat, politeChat] = [await direct(flooder, friend), await direct(polite, friend)];
		const [f, p] = [
			await connect(gochat.baseUrl, flooder.accessToken),
			await connect(gochat.baseUrl, polite.accessToken)
		];
		sockets.push(f, p);

		await politeSends(p, politeChat, "warm-up");
		const quiet = await politeSends(p, politeChat, "quiet");
		const flooding = flood(f, floodChat);
		let busy: number[];
		try {
			busy = await politeSends(p, politeChat, "busy");
		} finally {
			await flooding.stop();
		}
		const { accepted, refusals, firstBurstRefused } = flooding.tally;
		console.log(
			`polite sender's median ack: ${median(quiet).toFixed(1)} ms alone, ${median(busy).toFixed(1)} ms beside ` +
				`${FLOOD_IN_FLIGHT} sends in flight (SEND_CONCURRENCY=4, SEND_QUEUE_PER_USER=${PER_USER_QUEUE}); ` +
				`flooder: ${accepted} accepted, ${refusals.length} refused (${firstBurstRefused} of its first burst)`
		);

		expect(median(busy)).toBeLessThan(Math.max(50, 10 * median(quiet)));
		expect(accepted).toBeGreaterThan(0);
		// At most the slots and its own queue were taken from the first burst; every refusal says when to retry.
		expect(firstBurstRefused).toBeGreaterThanOrEqual(FLOOD_IN_FLIGHT - 4 - PER_USER_QUEUE - 20);
		for (const error of refusals) expect(error).toMatchObject({ code: "RATE_LIMITED", details: { retryAfter: 1 } });

		// Nothing refused was stored: the conversation holds exactly the accepted sends.
		const listed = await flooder.api.get<{ conversations: Array<{ id: string; lastSeq: number }> }>(
			"/api/v1/conversations"
		);
		expect(listed.body.conversations.find(c => c.id === floodChat)?.lastSeq).toBe(accepted);
	});

	test("over REST a send past the user's queue is 429 RATE_LIMITED with Retry-After", async () => {
		const [rushed, friend] = [await register(api, "rushed"), await register(api, "friend")];
		const chat = await direct(rushed, friend);
		const burst = await Promise.all(
			Array.from({ length: 100 }, (_, n) =>
				rushed.api.post(`/api/v1/conversations/${chat}/messages`, {
					clientMsgId: `r-${n}`,
					type: "text",
					content: "rest"
				})
			)
		);
		const refused = burst.filter(r => r.status !== 200 && r.status !== 201);
		expect(refused.length).toBeGreaterThan(0);
		expect(burst.length - refused.length).toBeGreaterThanOrEqual(4);
		for (const r of refused) {
			expect([r.status, r.body.error.code, r.body.error.details, r.headers.get("retry-after")]).toEqual([
				429,
				"RATE_LIMITED",
				{ retryAfter: 1 },
				"1"
			]);
		}
	});
});
