import type { Socket } from "socket.io-client";
import { METRICS } from "../../lib/metrics";
import { RunningGoChat, startGoChat } from "../helpers/gochat";
import { Account, Api, register } from "../helpers/http";
import { freePort } from "../helpers/processes";
import { closeAll, connect, emitAck, nextEvent } from "../helpers/sockets";

/** One sample of a Prometheus text exposition: name, labels, value. */
interface Sample {
	name: string;
	labels: Record<string, string>;
	value: number;
}

function parseExposition(text: string): Sample[] {
	const samples: Sample[] = [];
	for (const line of text.split("\n")) {
		if (line === "" || line.startsWith("#")) continue;
		const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
		if (!match) throw new Error(`not a Prometheus sample line: ${line}`);
		const labels: Record<string, string> = {};
		for (const [, key, value] of (match[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[key] = value;
		samples.push({ name: match[1], labels, value: Number(match[3]) });
	}
	return samples;
}

/** The Prometheus name Moleculer's reporter gives a metric (dots become underscores). */
const promName = (metric: string) => metric.replace(/[.-]/g, "_");

describe("metrics on METRICS_PORT", () => {
	let gochat: RunningGoChat;
	let metricsPort: number;
	let api: Api;
	let alice: Account;
	let bob: Account;
	let eve: Account;
	const sockets: Socket[] = [];
	let n = 0;

	const scrape = async (): Promise<Sample[]> => {
		const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
		expect(res.status).toBe(200);
		return parseExposition(await res.text());
	};
	const sum = (samples: Sample[], metric: string, labels: Record<string, string> = {}) =>
		samples
			.filter(s => s.name === metric && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
			.reduce((total, s) => total + s.value, 0);
	const send = (socket: Socket, conversationId: string, content: string) =>
		emitAck(socket, "message:send", { conversationId, clientMsgId: `m-${++n}`, type: "text", content });

	beforeAll(async () => {
		metricsPort = await freePort();
		gochat = await startGoChat({ METRICS_PORT: String(metricsPort) });
		api = new Api(gochat.baseUrl);
		[alice, bob, eve] = [await register(api, "alice"), await register(api, "bob"), await register(api, "eve")];
		for (const who of [alice, bob, eve]) sockets.push(await connect(gochat.baseUrl, who.accessToken));
	});
	afterAll(async () => {
		closeAll(sockets);
		await gochat.stop();
	});

	test("a scrape after traffic lists every GoChat metric with the values the traffic implies", async () => {
		const [aliceSocket, bobSocket] = sockets;
		const opened = await alice.api.post("/api/v1/conversations/direct", { userId: bob.user.id });
		const direct = opened.body.conversation.id as string;

		// Three direct sends and one to the world room (through the fan-out queue), all acked.
		const worldArrives = nextEvent(
			bobSocket,
			"message:new",
			(p: { message: { conversationId: string } }) => p.message.conversationId === "world"
		);
		const acks = [
			await send(aliceSocket, direct, "one"),
			await send(aliceSocket, direct, "two"),
			await send(bobSocket, direct, "three"),
			await send(aliceSocket, "world", "hello world")
		];
		expect(acks.map(a => a.ok)).toEqual([true, true, true, true]);
		await worldArrives;
		// Refused: eve is no member of alice and bob's conversation (to her it does not exist); an empty content fails validation.
		const forbidden = await send(sockets[2], direct, "let me in");
		expect(forbidden).toMatchObject({ ok: false, error: { code: "CONVERSATION_NOT_FOUND" } });
		const invalid = await send(aliceSocket, direct, "");
		expect(invalid).toMatchObject({ ok: false, error: { code: "INVALID_INPUT" } });
		// A history read goes through the hot cache.
		const history = await bob.api.get(`/api/v1/conversations/${direct}/messages`);
		expect(history.body.messages).toHaveLength(3);

		// The world push may land on the scrape's heels: poll until the push count has caught up.
		let samples = await scrape();
		const deadline = Date.now() + 15_000;
		while (sum(samples, promName(METRICS.PUSHES)) < 3 + 2 && Date.now() < deadline) {
			await new Promise(resolve => setTimeout(resolve, 50));
			samples = await scrape();
		}
		const accepted = promName(METRICS.MESSAGES_ACCEPTED);
		const refused = promName(METRICS.MESSAGES_REFUSED);
		const latency = promName(METRICS.SEND_ACK_LATENCY);
		const failures: string[] = [];
		const check = (what: string, ok: boolean, got: unknown) => {
			if (!ok) failures.push(`${what}: got ${JSON.stringify(got)}`);
		};

		check(
			"accepted direct = 3",
			sum(samples, accepted, { type: "direct" }) === 3,
			sum(samples, accepted, { type: "direct" })
		);
		check(
			"accepted world = 1",
			sum(samples, accepted, { type: "world" }) === 1,
			sum(samples, accepted, { type: "world" })
		);
		check(
			"accepted group = 0 (listed)",
			samples.some(s => s.name === accepted && s.labels.type === "group"),
			null
		);
		check(
			"refused CONVERSATION_NOT_FOUND ≥ 1",
			sum(samples, refused, { code: "CONVERSATION_NOT_FOUND" }) >= 1,
			sum(samples, refused, { code: "CONVERSATION_NOT_FOUND" })
		);
		check(
			"refused INVALID_INPUT ≥ 1",
			sum(samples, refused, { code: "INVALID_INPUT" }) >= 1,
			sum(samples, refused, { code: "INVALID_INPUT" })
		);
		// Every send got its ack (refusals too): the histogram counts each once (its +Inf bucket is the count;
		// Moleculer's reporter writes _count only for histograms with quantiles).
		const observed = sum(samples, `${latency}_bucket`, { le: "+Inf" });
		check("send→ack histogram count = 6", observed === 6, observed);
		const fast = sum(samples, `${latency}_bucket`, { le: "5000" });
		check("send→ack: every ack within 5 s", fast === observed, fast);
		check(
			"sockets connected = 3",
			sum(samples, promName(METRICS.SOCKETS_CONNECTED)) === 3,
			sum(samples, promName(METRICS.SOCKETS_CONNECTED))
		);
		// Direct sends push to the other member (3); the world message reaches bob and eve (not the sender's socket).
		check("pushes ≥ 5", sum(samples, promName(METRICS.PUSHES)) >= 5, sum(samples, promName(METRICS.PUSHES)));
		const reads = sum(samples, promName(METRICS.HOT_CACHE_HITS)) + sum(samples, promName(METRICS.HOT_CACHE_MISSES));
		check("hot-cache hits + misses ≥ 1 read", reads >= 1, reads);
		check(
			"fan-out queued ≥ 1",
			sum(samples, promName(METRICS.FANOUT_QUEUED)) >= 1,
			sum(samples, promName(METRICS.FANOUT_QUEUED))
		);
		for (const metric of [METRICS.FANOUT_RETRIED, METRICS.FANOUT_DEAD_LETTERED]) {
			check(
				`${metric} listed at 0`,
				samples.some(s => s.name === promName(metric)) && sum(samples, promName(metric)) === 0,
				sum(samples, promName(metric))
			);
		}
		// Moleculer's own metrics sit beside them, labelled with the node.
		check(
			"moleculer request totals",
			samples.some(s => s.name === "moleculer_request_total" && s.labels.nodeID === gochat.broker.nodeID),
			null
		);
		expect(failures).toEqual([]);
	});

	test("a socket closing lowers the sockets gauge", async () => {
		sockets.pop()!.close();
		const gauge = promName(METRICS.SOCKETS_CONNECTED);
		const deadline = Date.now() + 15_000;
		let value = sum(await scrape(), gauge);
		while (value !== 2 && Date.now() < deadline) {
			await new Promise(resolve => setTimeout(resolve, 50));
			value = sum(await scrape(), gauge);
		}
		expect(value).toBe(2);
	});
});
