import { spawn } from "child_process";
import net from "net";
import { io, Socket } from "socket.io-client";
import { startGoChat, RunningGoChat } from "../helpers/gochat";
import { Account, Api, register } from "../helpers/http";
import { closeAll, connect, emitAck } from "../helpers/sockets";

type Ack = {
	ok: boolean;
	error?: { code: string; message: string; details?: { retryAfter?: number } };
	[key: string]: unknown;
};

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const ms = (value: number) => `${value.toFixed(1)} ms`;
let counter = 0;
const message = (conversationId: string, content = "hi") => ({
	conversationId,
	clientMsgId: `abuse-${++counter}`,
	type: "text",
	content
});

/** Sends one message after another and returns each ack's latency. */
async function timedSends(socket: Socket, conversationId: string, count: number): Promise<number[]> {
	const latencies: number[] = [];
	for (let i = 0; i < count; i++) {
		const start = performance.now();
		const ack = await emitAck<Ack>(socket, "message:send", message(conversationId));
		latencies.push(performance.now() - start);
		expect(ack.ok).toBe(true);
	}
	return latencies;
}

async function timedRequests(api: Api, path: string, count: number): Promise<number[]> {
	const latencies: number[] = [];
	for (let i = 0; i < count; i++) {
		const start = performance.now();
		expect((await api.get(path)).status).toBe(200);
		latencies.push(performance.now() - start);
	}
	return latencies;
}

const direct = async (a: Account, b: Account) =>
	(await a.api.post("/api/v1/conversations/direct", { userId: b.user.id })).body.conversation.id as string;

/**
 * An abusive client in a process of its own (so its work does not slow the server's event loop,
 * which the test shares): it keeps `inFlight` sends under way, and when cut off it connects again
 * at once, over and over, until told to stop. It reports what it got.
 */
const FLOODER = `
const { io } = require("socket.io-client");
const [url, token, conversationId, inFlight] = process.argv.slice(1);
const socket = io(url, { auth: { token }, transports: ["websocket"], reconnection: false, forceNew: true });
const tally = { ok: 0, limited: 0, other: 0, retryAfter: [], cutOff: null, disconnect: null, handshakesRefused: 0, refusal: null, floodMs: null };
let sent = 0, stopping = false, startedAt = 0;
const finish = () => {
	process.stdout.write(JSON.stringify(tally) + "\\n");
	socket.close();
	process.exit(0);
};
function sendOne() {
	socket.timeout(10000).emit("message:send", { conversationId, clientMsgId: "flood-" + sent++, type: "text", content: "spam" }, (err, ack) => {
		if (err || !ack) return;
		if (ack.ok) tally.ok++;
		else if (ack.error.code === "RATE_LIMITED") {
			tally.limited++;
			if (!tally.retryAfter.includes(ack.error.details.retryAfter)) tally.retryAfter.push(ack.error.details.retryAfter);
		} else tally.other++;
		if (socket.connected && !stopping) sendOne();
	});
}
socket.on("connect", () => {
	if (sent === 0) {
		startedAt = Date.now();
		process.stdout.write("ready\\n");
	}
	for (let i = 0; i < Number(inFlight); i++) sendOne();
});
socket.on("rate:exceeded", payload => (tally.cutOff = payload));
socket.on("disconnect", reason => {
	tally.disconnect = reason;
	if (tally.floodMs === null) tally.floodMs = Date.now() - startedAt;
	if (!stopping) socket.connect();
});
socket.on("connect_error", err => {
	tally.handshakesRefused++;
	tally.refusal = err.data;
	if (!stopping) setImmediate(() => socket.connect());
});
process.stdin.on("data", () => {
	stopping = true;
	finish();
});
`;

type FloodTally = {
	ok: number;
	limited: number;
	other: number;
	retryAfter: number[];
	cutOff: { code: string; message: string } | null;
	disconnect: string | null;
	handshakesRefused: number;
	refusal: { code: string; message: string; details?: { retryAfter: number } } | null;
	/** Milliseconds from the first send to the cut-off. */
	floodMs: number | null;
};

async function startFlooder(
	baseUrl: string,
	token: string,
	conversationId: string,
	inFlight: number
): Promise<{ stop(): Promise<FloodTally> }> {
	const child = spawn(process.execPath, ["-e", FLOODER, baseUrl, token, conversationId, String(inFlight)], {
		stdio: ["pipe", "pipe", "inherit"]
	});
	const lines: string[] = [];
	const waiters: Array<() => void> = [];
	let buffered = "";
	child.stdout.on("data", chunk => {
		buffered += chunk.toString();
		let newline;
		while ((newline = buffered.indexOf("\n")) >= 0) {
			lines.push(buffered.slice(0, newline));
			buffered = buffered.slice(newline + 1);
			waiters.splice(0).forEach(wake => wake());
		}
	});
	const nextLine = async (index: number) => {
		while (lines.length <= index) await new Promise<void>(resolve => waiters.push(resolve));
		return lines[index];
	};
	expect(await nextLine(0)).toBe("ready");
	return {
		async stop() {
			child.stdin.write("stop\n");
			return JSON.parse(await nextLine(1)) as FloodTally;
		}
	};
}

/** A GoChat started with `env` for one describe block, and the sockets its tests open. */
function gochatWith(env: Record<string, string>) {
	const context = {
		gochat: undefined as unknown as RunningGoChat,
		api: undefined as unknown as Api,
		sockets: [] as Socket[]
	};
	beforeAll(async () => {
		context.gochat = await startGoChat(env);
		context.api = new Api(context.gochat.baseUrl);
	});
	afterEach(() => closeAll(context.sockets.splice(0)));
	afterAll(() => context.gochat.stop());
	return Object.assign(context, {
		async open(account: Account) {
			const socket = await connect(context.gochat.baseUrl, account.accessToken);
			context.sockets.push(socket);
			return socket;
		}
	});
}

describe("the send rate per socket, at its defaults", () => {
	const setup = gochatWith({ SEND_RATE_SOCKET: "20/1s", SEND_RATE_USER: "40/1s" });

	test("a client that keeps 200 sends in flight is refused, then cut off and kept out; a client beside it keeps its latency", async () => {
		const { api, open } = setup;
		const [abuser, abusersPeer, good, goodsPeer] = await Promise.all(
			["flood", "floodpeer", "calm", "calmpeer"].map(name => register(api, name))
		);
		const [floodId, calmId] = [await direct(abuser, abusersPeer), await direct(good, goodsPeer)];
		// Two sockets, 15 sends each: together within the calm user's own rates.
		const [calmBefore, calmDuring] = [await open(good), await open(good)];
		await open(abusersPeer);
		await open(goodsPeer);

		const before = await timedSends(calmBefore, calmId, 15);
		const flood = await startFlooder(setup.gochat.baseUrl, abuser.accessToken, floodId, 200);
		const during = await timedSends(calmDuring, calmId, 15);
		const tally = await flood.stop();

		console.log(
			`flooder (200 sends in flight, SEND_RATE_SOCKET=20/1s): ${tally.ok} accepted, ${tally.limited} refused in ${tally.floodMs} ms ` +
				`(retryAfter ${tally.retryAfter.join(",")} s), then cut off (${tally.disconnect}) and ${tally.handshakesRefused} reconnects refused; ` +
				`calm client's median ack ${ms(median(before))} before, ${ms(median(during))} during`
		);
		expect(tally.other).toBe(0);
		expect(tally.limited).toBeGreaterThan(0);
		expect(tally.retryAfter.every(s => s >= 1)).toBe(true);
		expect(tally.cutOff).toEqual({ code: "RATE_LIMITED", message: expect.stringContaining("respect retryAfter") });
		expect(tally.disconnect).toBe("io server disconnect");
		expect(tally.refusal).toMatchObject({ code: "RATE_LIMITED", details: { retryAfter: expect.any(Number) } });
		expect(median(during)).toBeLessThan(Math.max(10 * median(before), 50));
		// The burst of 20 was accepted, plus one per 50 ms the flood lasted until the cut-off (the rate refills);
		// acks still on their way when the socket was cut off are lost (resending with the same clientMsgId is safe).
		const history = await abuser.api.get(`/api/v1/conversations/${floodId}/messages?limit=200`);
		expect(history.body.messages.length).toBeLessThanOrEqual(20 + Math.ceil((tally.floodMs ?? 0) / 50));
		expect(history.body.messages.length).toBeGreaterThanOrEqual(tally.ok);
	}, 60_000);

	test("a client that waits retryAfter when refused sends at the rate and is never cut off", async () => {
		const { api, open } = setup;
		const [eager, peer] = [await register(api, "eager"), await register(api, "eagerpeer")];
		const id = await direct(eager, peer);
		const socket = await open(eager);
		const started = performance.now();
		let accepted = 0;
		let refused = 0;
		while (accepted < 50) {
			const ack = await emitAck<Ack>(socket, "message:send", message(id));
			if (ack.ok) accepted++;
			else {
				expect(ack.error!.code).toBe("RATE_LIMITED");
				refused++;
				await new Promise(resolve => setTimeout(resolve, ack.error!.details!.retryAfter! * 1000));
			}
		}
		const seconds = (performance.now() - started) / 1000;
		console.log(`polite client: 50 accepted in ${seconds.toFixed(1)} s, ${refused} refusals`);
		// 20 at once, then 20 a second (retryAfter is whole seconds, so it waits a little longer).
		expect(seconds).toBeGreaterThanOrEqual(1.4);
		expect(socket.connected).toBe(true);
	}, 30_000);
});

describe("the send rate per user", () => {
	const setup = gochatWith({ SEND_RATE_SOCKET: "5/1m", SEND_RATE_USER: "8/1m" });

	test("SEND_RATE_USER counts a user's sends over all their sockets and REST; other users are not affected", async () => {
		const { api, open } = setup;
		const [jan, kim] = [await register(api, "jan"), await register(api, "kim")];
		const id = await direct(jan, kim);
		const [first, second, kims] = [await open(jan), await open(jan), await open(kim)];
		const codes = async (socket: Socket, count: number) => {
			const acks: Ack[] = [];
			for (let i = 0; i < count; i++) acks.push(await emitAck<Ack>(socket, "message:send", message(id)));
			return acks.map(ack => (ack.ok ? "ok" : ack.error!.code));
		};

		expect(await codes(first, 6)).toEqual(["ok", "ok", "ok", "ok", "ok", "RATE_LIMITED"]);
		const socketLimited = await emitAck<Ack>(first, "message:send", message(id));
		expect(socketLimited.error).toMatchObject({
			code: "RATE_LIMITED",
			message: expect.stringContaining("this socket"),
			details: { retryAfter: expect.any(Number) }
		});
		expect(await codes(second, 2)).toEqual(["ok", "ok"]);
		expect(await jan.api.post(`/api/v1/conversations/${id}/messages`, message(id))).toMatchObject({ status: 200 });

		const rest = await jan.api.post(`/api/v1/conversations/${id}/messages`, message(id));
		expect(rest.status).toBe(429);
		expect(rest.body.error).toMatchObject({ code: "RATE_LIMITED", message: expect.stringContaining("this user") });
		expect(rest.body.error.details.retryAfter).toBeGreaterThanOrEqual(1);
		expect(rest.headers.get("retry-after")).toBe(String(rest.body.error.details.retryAfter));
		expect((await emitAck<Ack>(second, "message:send", message(id))).error?.code).toBe("RATE_LIMITED");

		expect(await codes(kims, 5)).toEqual(["ok", "ok", "ok", "ok", "ok"]);
		const stored = await kim.api.get(`/api/v1/conversations/${id}/messages?limit=50`);
		expect(stored.body.messages).toHaveLength(8 + 5);
	});
});

describe("other socket events", () => {
	const setup = gochatWith({ SOCKET_EVENT_RATE: "8/1m" });

	test("SOCKET_EVENT_RATE counts every other event per socket, unknown ones too; sends and other sockets are not affected", async () => {
		const { api, open } = setup;
		const [lea, max] = [await register(api, "lea"), await register(api, "max")];
		const id = await direct(lea, max);
		const [busy, other] = [await open(lea), await open(lea)];
		const events: Array<[string, unknown]> = [
			["typing", { conversationId: id }],
			["conversation:read", { conversationId: id, seq: 0 }],
			["sync", {}],
			["auth:refresh", { token: "garbage" }],
			["no-such-event", {}],
			["typing", { conversationId: "group_1" }],
			["call", "repo.users.getMany"],
			["typing", {}]
		];
		for (const [event, payload] of events)
			expect((await emitAck<Ack>(busy, event, payload)).error?.code).not.toBe("RATE_LIMITED");
		const refused = await emitAck<Ack>(busy, "sync", {});
		expect(refused).toMatchObject({
			ok: false,
			error: { code: "RATE_LIMITED", message: expect.stringContaining("events from this socket") }
		});
		// 8 per minute: one more every 7.5 s.
		expect(refused.error!.details!.retryAfter).toBeGreaterThanOrEqual(7);
		expect(refused.error!.details!.retryAfter).toBeLessThanOrEqual(8);
		expect((await emitAck<Ack>(busy, "message:send", message(id))).ok).toBe(true);
		expect((await emitAck<Ack>(other, "sync", {})).ok).toBe(true);
	});

	test("every event acks whatever its arguments: none, null, numbers, strings, arrays, extra ones", async () => {
		const { api, open } = setup;
		const nia = await register(api, "nia");
		const events = ["message:send", "conversation:read", "typing", "sync", "auth:refresh", "call", "no-such-event"];
		const argumentLists: unknown[][] = [
			[],
			[null],
			[42],
			["text"],
			[[1, 2]],
			[{ conversationId: "world" }, 7, "extra"],
			[true, null, {}]
		];
		let acked = 0;
		for (const event of events) {
			// A fresh socket per event keeps these within the event rate.
			const socket = await open(nia);
			for (const args of argumentLists) {
				const ack = (await socket.timeout(5000).emitWithAck(event, ...args)) as Ack;
				expect({ event, args, ok: typeof ack.ok, code: ack.error?.code }).toEqual({
					event,
					args,
					ok: "boolean",
					code: ack.ok ? undefined : expect.any(String)
				});
				expect(ack.error?.code).not.toBe("INTERNAL");
				acked++;
			}
		}
		expect(acked).toBe(events.length * argumentLists.length);
		// The finding: `typing` sent with only an ack was never answered.
		const fresh = await open(nia);
		expect(await fresh.timeout(5000).emitWithAck("typing")).toMatchObject({
			ok: false,
			error: { code: "INVALID_INPUT" }
		});
	});
});

describe("the typing throttle", () => {
	const setup = gochatWith({ SOCKET_EVENT_RATE: "off" });
	type ServerSide = { io: { of(nsp: string): { sockets: Map<string, { data: { typing?: { size: number } } }> } } };

	test("20,000 conversation ids from one socket leave at most 64 remembered, and only ones the user is in", async () => {
		const { api, gochat, open } = setup;
		const oli = await register(api, "oli");
		const socket = await open(oli);
		const remembered = () =>
			(gochat.broker.getLocalService("api") as unknown as ServerSide).io.of("/").sockets.get(socket.id!)!.data
				.typing?.size ?? 0;
		const started = performance.now();
		// Every 20th id has the form of a real one, so logic looks it up; the others it refuses at sight.
		const foreignId = (i: number) => (i % 20 === 0 ? `group_${i + 1}` : `no-such-conversation-${i}`);
		for (let batch = 0; batch < 20_000; batch += 1000) {
			const acks = await Promise.all(
				Array.from({ length: 1000 }, (_, i) =>
					emitAck<Ack>(socket, "typing", { conversationId: foreignId(batch + i) })
				)
			);
			expect(acks.every(ack => ack.ok === false && ack.error!.code !== "RATE_LIMITED")).toBe(true);
		}
		const seconds = (performance.now() - started) / 1000;
		expect(remembered()).toBe(0);

		const groups = await Promise.all(
			Array.from({ length: 70 }, (_, i) => oli.api.post("/api/v1/groups", { name: `g${i}` }))
		);
		for (const { body } of groups)
			expect((await emitAck<Ack>(socket, "typing", { conversationId: body.group.conversationId })).ok).toBe(true);
		expect(remembered()).toBe(64);
		const again = await emitAck<Ack>(socket, "typing", { conversationId: groups[69].body.group.conversationId });
		expect(again).toMatchObject({ ok: false, error: { code: "RATE_LIMITED", details: { retryAfter: 1 } } });
		console.log(
			`typing: 20,000 foreign ids refused in ${seconds.toFixed(1)} s and none remembered; 70 own conversations, ${remembered()} remembered`
		);
	}, 60_000);
});

/** Opens a raw connection, writes `head`, then `trickle` one byte every `everyMs`; resolves when the server closes it. */
function slowClient(
	baseUrl: string,
	head: string,
	trickle: string,
	everyMs: number
): Promise<{ elapsedMs: number; reply: string }> {
	const { hostname, port } = new URL(baseUrl);
	return new Promise(resolve => {
		const started = performance.now();
		const client = net.connect(Number(port), hostname);
		let reply = "";
		let sent = 0;
		const timer = setInterval(() => {
			if (sent < trickle.length && !client.destroyed) client.write(trickle[sent++]);
		}, everyMs);
		client.on("connect", () => client.write(head));
		client.on("data", data => (reply += data.toString()));
		client.on("error", () => undefined);
		client.on("close", () => {
			clearInterval(timer);
			resolve({ elapsedMs: performance.now() - started, reply });
		});
	});
}

describe("slow clients", () => {
	const setup = gochatWith({ HTTP_HEADERS_TIMEOUT_MS: "2000", HTTP_REQUEST_TIMEOUT_MS: "3000" });

	test("trickled bodies and headers are cut within the timeouts; sockets and other clients carry on", async () => {
		const { api, gochat, open, sockets } = setup;
		const pia = await register(api, "pia");
		const websocket = await open(pia);
		const polling = io(gochat.baseUrl, {
			auth: { token: pia.accessToken },
			transports: ["polling"],
			reconnection: false,
			forceNew: true
		});
		sockets.push(polling);
		await new Promise(resolve => polling.once("connect", () => resolve(undefined)));
		const before = await timedRequests(pia.api, "/api/v1/users/me", 20);

		const body = JSON.stringify({ username: "slowpoke", password: "correct horse" });
		const bodies = Array.from({ length: 20 }, () =>
			slowClient(
				gochat.baseUrl,
				`POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
				body,
				100
			)
		);
		const headers = Array.from({ length: 20 }, () =>
			slowClient(gochat.baseUrl, "GET /health HTTP/1.1\r\n", "Host: x\r\nX-Slow: " + "y".repeat(200), 100)
		);
		const during = await timedRequests(pia.api, "/api/v1/users/me", 20);
		const [cutBodies, cutHeaders] = [await Promise.all(bodies), await Promise.all(headers)];

		const slowest = (cut: Array<{ elapsedMs: number }>) => Math.max(...cut.map(c => c.elapsedMs));
		console.log(
			`slow clients: trickled bodies cut after at most ${ms(slowest(cutBodies))} (HTTP_REQUEST_TIMEOUT_MS=3000), ` +
				`trickled headers after ${ms(slowest(cutHeaders))} (HTTP_HEADERS_TIMEOUT_MS=2000); ` +
				`median request ${ms(median(before))} before, ${ms(median(during))} during`
		);
		for (const cut of cutBodies) {
			expect(cut.elapsedMs).toBeGreaterThanOrEqual(2900);
			expect(cut.elapsedMs).toBeLessThan(3000 + 2000);
			expect(cut.reply).toMatch(/^HTTP\/1\.1 408/);
		}
		for (const cut of cutHeaders) expect(cut.elapsedMs).toBeLessThan(2000 + 2000);
		expect(median(during)).toBeLessThan(Math.max(10 * median(before), 50));

		// Connections older than both timeouts are not requests in progress: they stay.
		expect((await emitAck<Ack>(websocket, "sync", {})).ok).toBe(true);
		expect((await emitAck<Ack>(polling, "sync", {})).ok).toBe(true);
		expect(websocket.connected && polling.connected).toBe(true);
	}, 30_000);
});
