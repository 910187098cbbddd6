import type { Context } from "moleculer";
import type { Socket } from "socket.io-client";
import { FANOUT_MESSAGE_CHANNEL } from "../../lib/contracts/channels";
import { RunningGoChat, startGoChat } from "../helpers/gochat";
import { Account, Api, register } from "../helpers/http";
import { closeAll, connect, emitAck, nextEvent } from "../helpers/sockets";

/** The fields of a finished span as Moleculer's Event exporter emits them. */
interface Span {
	id: string;
	name: string;
	traceID: string;
	parentID: string | null;
	type: string;
	tags: Record<string, unknown>;
}

describe("tracing with TRACING=Event", () => {
	let gochat: RunningGoChat;
	let alice: Account;
	let bob: Account;
	let sockets: Socket[] = [];
	const spans: Span[] = [];

	beforeAll(async () => {
		gochat = await startGoChat({ TRACING: "Event" });
		// What a span collector does: listen to the exporter's event.
		gochat.broker.createService({
			name: "spanCollector",
			events: {
				"$tracing.spans"(ctx: Context<Span[]>) {
					spans.push(...ctx.params);
				}
			}
		});
		await gochat.broker.waitForServices("spanCollector");
		const api = new Api(gochat.baseUrl);
		[alice, bob] = [await register(api, "alice"), await register(api, "bob")];
		sockets = [await connect(gochat.baseUrl, alice.accessToken), await connect(gochat.baseUrl, bob.accessToken)];
	});
	afterAll(async () => {
		closeAll(sockets);
		await gochat.stop();
	});

	test("a world message is one trace: the send, its store, the queued fan-out job and the push", async () => {
		const [aliceSocket, bobSocket] = sockets;
		const arrives = nextEvent(
			bobSocket,
			"message:new",
			(p: { message: { content: string } }) => p.message.content === "traced"
		);
		const ack = await emitAck(aliceSocket, "message:send", {
			conversationId: "world",
			clientMsgId: "trace-1",
			type: "text",
			content: "traced"
		});
		expect(ack.ok).toBe(true);
		await arrives;

		const channelSpan = `channel '${gochat.config.namespace}.${FANOUT_MESSAGE_CHANNEL}'`;
		const traceOf = () => {
			const send = spans.find(s => s.name === "action 'messages.send'");
			return send ? spans.filter(s => s.traceID === send.traceID) : [];
		};
		// The exporter sends finished spans once a second.
		const deadline = Date.now() + 10_000;
		while (Date.now() < deadline) {
			const names = traceOf().map(s => s.name);
			if (names.includes(channelSpan) && names.includes("action 'api.push'")) break;
			await new Promise(resolve => setTimeout(resolve, 100));
		}
		const trace = traceOf();
		const named = (name: string) => trace.find(s => s.name === name);
		const names = trace.map(s => s.name);
		expect(names).toEqual(
			expect.arrayContaining([
				"action 'messages.send'",
				"action 'repo.messages.append'",
				"action 'delivery.message'",
				channelSpan,
				"action 'delivery.toUsers'",
				"action 'api.push'"
			])
		);
		// The chain from the send to the task's handler is linked parent to child across the queue.
		const send = named("action 'messages.send'")!;
		expect(named("action 'repo.messages.append'")!.parentID).toBe(send.id);
		const delivery = named("action 'delivery.message'")!;
		expect(delivery.parentID).toBe(send.id);
		const job = named(channelSpan)!;
		expect(job.parentID).toBe(delivery.id);
		expect(named("action 'delivery.toUsers'")!.parentID).toBe(job.id);
	});
});
