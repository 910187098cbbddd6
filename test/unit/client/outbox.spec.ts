import type { Ack, SendParams } from "../../../lib/contracts/client";
import type { Message } from "../../../lib/types";
import { newClientMsgId, Outbox } from "../../../client/src/outbox";
import type { ChatMessage } from "../../../client/src/types";

type Answer = Ack<{ message: Message }> | "lost";

/** A socket stand-in: records each send and lets the test answer it. */
class FakeTransport {
	up = true;
	sent: Array<{ params: SendParams; answer(a: Answer): void }> = [];
	canSend = () => this.up;
	send = (params: SendParams) =>
		new Promise<Ack<{ message: Message }>>((resolve, reject) => {
			this.sent.push({ params, answer: a => (a === "lost" ? reject(new Error("timeout")) : resolve(a)) });
		});
	last() {
		return this.sent[this.sent.length - 1];
	}
}

function stored(params: SendParams, seq: number): Message {
	return {
		id: `id-${seq}`,
		conversationId: params.conversationId,
		senderId: "me",
		type: params.type,
		content: params.content,
		seq,
		clientMsgId: params.clientMsgId,
		createdAt: new Date().toISOString()
	};
}

const refused = (code: string, retryAfter?: number): Answer => ({
	ok: false,
	error: { code, message: code, ...(retryAfter ? { details: { retryAfter } } : {}) }
});

const tick = () => new Promise(resolve => setImmediate(resolve));

function setup(maxRetries = 3) {
	const transport = new FakeTransport();
	const timers: Array<{ fn: () => void; ms: number }> = [];
	const changed: ChatMessage[] = [];
	const sent: Array<{ pending: ChatMessage; stored: Message }> = [];
	/** What list() answered each time the outbox said it changed. */
	const saves: string[][] = [];
	const outbox: Outbox = new Outbox(
		transport,
		{
			changed: m => changed.push(m),
			sent: (pending, s) => sent.push({ pending, stored: s }),
			listChanged: () => saves.push(outbox.list().map(m => `${m.clientMsgId}:${m.status}`))
		},
		{
			maxRetries,
			setTimer: (fn, ms) => {
				const timer = { fn, ms };
				timers.push(timer);
				return timer;
			},
			clearTimer: timer => timers.splice(timers.indexOf(timer as never), 1)
		}
	);
	const fire = () => timers.splice(0).forEach(t => t.fn());
	return { transport, outbox, timers, changed, sent, saves, fire };
}

describe("Outbox", () => {
	test("send gives a pending message at once and sends one at a time, in order", async () => {
		const { transport, outbox, sent } = setup();
		const a = outbox.add("c1", "me", "first", "text");
		const b = outbox.add("c1", "me", "second", "text");
		expect(a).toMatchObject({ status: "pending", id: null, seq: null });
		expect(a.clientMsgId).not.toBe(b.clientMsgId);
		expect(transport.sent.map(s => s.params.content)).toEqual(["first"]);
		transport.last().answer({ ok: true, message: stored(transport.last().params, 1) });
		await tick();
		expect(transport.sent.map(s => s.params.content)).toEqual(["first", "second"]);
		expect(sent.map(s => [s.pending.clientMsgId, s.stored.seq])).toEqual([[a.clientMsgId, 1]]);
		expect(outbox.list().map(m => m.clientMsgId)).toEqual([b.clientMsgId]);
	});

	test("queued while disconnected; after a reconnect un-acked ones go again with the same clientMsgId", async () => {
		const { transport, outbox } = setup();
		transport.up = false;
		const a = outbox.add("c1", "me", "offline", "text");
		expect(transport.sent).toHaveLength(0);
		transport.up = true;
		outbox.reconnected();
		expect(transport.sent[0].params.clientMsgId).toBe(a.clientMsgId);
		// The socket drops before the ack: the attempt is abandoned and made again on the next socket.
		outbox.interrupted();
		transport.sent[0].answer("lost");
		await tick();
		outbox.reconnected();
		expect(transport.sent.map(s => s.params.clientMsgId)).toEqual([a.clientMsgId, a.clientMsgId]);
	});

	test.each(["FORBIDDEN", "CONVERSATION_NOT_FOUND", "MESSAGE_TOO_LARGE", "INVALID_INPUT", "CLIENT_MSG_ID_CONFLICT"])(
		"%s fails the message with its code and the next one goes on",
		async code => {
			const { transport, outbox, changed } = setup();
			const a = outbox.add("c1", "me", "x", "text");
			outbox.add("c1", "me", "y", "text");
			transport.last().answer(refused(code));
			await tick();
			expect(changed).toEqual([expect.objectContaining({ clientMsgId: a.clientMsgId, status: "failed" })]);
			expect(changed[0].error?.code).toBe(code);
			expect(transport.sent.map(s => s.params.content)).toEqual(["x", "y"]);
		}
	);

	test("RATE_LIMITED waits retryAfter and retries, then fails with RATE_LIMITED after the bound", async () => {
		const { transport, outbox, timers, changed, fire } = setup(2);
		const a = outbox.add("c1", "me", "x", "text");
		for (let i = 0; i < 2; i++) {
			transport.last().answer(refused("RATE_LIMITED", 3));
			await tick();
			expect(timers.map(t => t.ms)).toEqual([3000]);
			fire();
		}
		expect(transport.sent).toHaveLength(3);
		transport.last().answer(refused("RATE_LIMITED", 3));
		await tick();
		expect(changed.map(m => [m.clientMsgId, m.status, m.error?.code])).toEqual([
			[a.clientMsgId, "failed", "RATE_LIMITED"]
		]);
		// retry() puts it back with a fresh bound; it is sent with the same clientMsgId.
		expect(outbox.retry(a.clientMsgId)).toBe(true);
		expect(changed[1]).toMatchObject({ status: "pending" });
		expect(changed[1].error).toBeUndefined();
		expect(transport.last().params.clientMsgId).toBe(a.clientMsgId);
		transport.last().answer(refused("OVERLOADED", 1));
		await tick();
		expect(timers.map(t => t.ms)).toEqual([1000]);
	});

	test("SERVICE_UNAVAILABLE and a lost ack keep it pending and resend it; a reconnect resends at once", async () => {
		const { transport, outbox, timers, changed, fire } = setup();
		outbox.add("c1", "me", "x", "text");
		transport.last().answer(refused("SERVICE_UNAVAILABLE", 1));
		await tick();
		expect(changed).toEqual([]);
		fire();
		transport.last().answer("lost");
		await tick();
		expect(timers).toHaveLength(1);
		outbox.reconnected();
		expect(timers).toHaveLength(0);
		expect(transport.sent).toHaveLength(3);
		expect(new Set(transport.sent.map(s => s.params.clientMsgId)).size).toBe(1);
	});

	test("while answers keep going missing on a live socket, each resend waits twice as long, up to 30 s", async () => {
		const { transport, outbox, timers, fire } = setup();
		outbox.add("c1", "me", "x", "text");
		const waits: number[] = [];
		for (let i = 0; i < 7; i++) {
			transport.last().answer(i % 2 ? "lost" : refused("SERVICE_UNAVAILABLE"));
			await tick();
			waits.push(timers[0].ms);
			fire();
		}
		expect(waits).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000, 30_000]);
		// Once a message is stored, the next outage starts from 1 s again.
		transport.last().answer({ ok: true, message: stored(transport.last().params, 1) });
		await tick();
		outbox.add("c1", "me", "y", "text");
		transport.last().answer("lost");
		await tick();
		expect(timers.map(t => t.ms)).toEqual([1000]);
	});

	test("says when its list changed: added, failed, retried, stored, discarded", async () => {
		const { transport, outbox, saves } = setup();
		const a = outbox.add("c1", "me", "x", "text");
		transport.last().answer(refused("FORBIDDEN"));
		await tick();
		outbox.retry(a.clientMsgId);
		transport.last().answer({ ok: true, message: stored(transport.last().params, 1) });
		await tick();
		const b = outbox.add("c1", "me", "y", "text");
		transport.last().answer(refused("MESSAGE_TOO_LARGE"));
		await tick();
		outbox.discard(b.clientMsgId);
		const [ida, idb] = [a.clientMsgId, b.clientMsgId];
		expect(saves).toEqual([
			[`${ida}:pending`],
			[`${ida}:failed`],
			[`${ida}:pending`],
			[],
			[`${idb}:pending`],
			[`${idb}:failed`],
			[]
		]);
	});

	test("restore puts saved messages back in order with their clientMsgId, ahead of new ones, and sends them", async () => {
		const { transport, outbox, sent } = setup();
		const saved = (n: number, status: ChatMessage["status"]): ChatMessage => ({
			id: null,
			conversationId: "c1",
			senderId: "me",
			type: "text",
			content: `saved ${n}`,
			seq: null,
			clientMsgId: `saved-${n}`,
			createdAt: "2026-11-22T00:00:00.000Z",
			status,
			...(status === "failed" ? { error: { code: "FORBIDDEN", message: "no" } } : {})
		});
		transport.up = false;
		const restored = outbox.restore([saved(1, "pending"), saved(2, "failed"), saved(3, "pending")]);
		expect(restored.map(m => m.clientMsgId)).toEqual(["saved-1", "saved-2", "saved-3"]);
		expect(outbox.restore([saved(1, "pending")])).toEqual([]);
		outbox.add("c1", "me", "new", "text");
		expect(transport.sent).toHaveLength(0);

		transport.up = true;
		outbox.reconnected();
		const order: string[] = [];
		for (let seq = 1; seq <= 3; seq++) {
			const { params } = transport.last();
			order.push(params.clientMsgId);
			transport.last().answer({ ok: true, message: stored(params, seq) });
			await tick();
		}
		// The failed one waits for retry(), as it did before the reload.
		expect(order).toEqual(["saved-1", "saved-3", order[2]]);
		expect(transport.sent[2].params.content).toBe("new");
		expect(sent.map(s => s.pending.clientMsgId)).toEqual(order);
		expect(outbox.list().map(m => [m.clientMsgId, m.status])).toEqual([["saved-2", "failed"]]);
	});

	test("a message stored while the next one waits out a lost ack ends that wait at once", async () => {
		const { transport, outbox, timers } = setup();
		outbox.add("c1", "me", "x", "text");
		const first = transport.last().params;
		transport.last().answer("lost");
		await tick();
		expect(timers.map(t => t.ms)).toEqual([1000]);
		// The copy of the first arrives by push: the server is storing again, so its resend is not needed.
		outbox.add("c1", "me", "y", "text");
		outbox.settle(stored(first, 1));
		expect(timers).toEqual([]);
		expect(transport.last().params.content).toBe("y");
	});

	test("a copy that arrives before the ack settles it; the late ack changes nothing", async () => {
		const { transport, outbox, sent } = setup();
		const a = outbox.add("c1", "me", "x", "text");
		const copy = stored(transport.last().params, 7);
		expect(outbox.settle({ ...copy, senderId: "someone else" })).toBeUndefined();
		expect(outbox.settle(copy)).toBe(a);
		transport.last().answer({ ok: true, message: copy });
		await tick();
		expect(sent).toHaveLength(1);
		expect(outbox.list()).toEqual([]);
	});

	test("discard removes only failed messages", async () => {
		const { transport, outbox } = setup();
		const a = outbox.add("c1", "me", "x", "text");
		expect(outbox.discard(a.clientMsgId)).toBeUndefined();
		transport.last().answer(refused("MESSAGE_TOO_LARGE"));
		await tick();
		expect(outbox.discard(a.clientMsgId)?.clientMsgId).toBe(a.clientMsgId);
		expect(outbox.list()).toEqual([]);
	});

	test("clientMsgIds are fresh, with or without crypto.randomUUID", () => {
		const ids = new Set(Array.from({ length: 100 }, newClientMsgId));
		expect(ids.size).toBe(100);
		const original = Object.getOwnPropertyDescriptor(globalThis, "crypto");
		Object.defineProperty(globalThis, "crypto", { value: {}, configurable: true });
		try {
			const id = newClientMsgId();
			expect(id.length).toBeLessThanOrEqual(64);
			expect(id).not.toBe(newClientMsgId());
		} finally {
			if (original) Object.defineProperty(globalThis, "crypto", original);
		}
	});
});
