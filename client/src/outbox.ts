import type { Ack, ClientError, SendParams } from "../../lib/contracts/client";
import type { ClientMessageType, Message } from "../../lib/types";
import type { ChatMessage } from "./types";

/** How the outbox reaches the server: a socket that may be down, and its `message:send` with an ack timeout. */
export interface SendTransport {
	/** Connected and not draining (a server:shutdown stops sends on that socket). */
	canSend(): boolean;
	/** Rejects when no ack came in time or the socket closed first. */
	send(params: SendParams): Promise<Ack<{ message: Message }>>;
}

export interface OutboxEvents {
	/** A pending message changed: failed, or pending again after retry(). */
	changed(message: ChatMessage): void;
	/** The server stored it (ack, or a copy that arrived first). */
	sent(pending: ChatMessage, stored: Message): void;
	/** What list() answers changed (a message added, failed, retried, stored or discarded): time to save it. */
	listChanged?(): void;
}

export interface OutboxOptions {
	/** Resends after RATE_LIMITED or OVERLOADED before the message fails with that code; 3. */
	maxRetries?: number;
	/** First wait before resending after a lost ack or SERVICE_UNAVAILABLE while still connected; 1 s, doubling while it lasts. */
	resendDelayMs?: number;
	/** The longest such wait; 30 s. */
	maxResendDelayMs?: number;
	setTimer?: (fn: () => void, ms: number) => unknown;
	clearTimer?: (timer: unknown) => void;
}

/** Refusals that a resend cannot change: the message fails and waits for retry() or discard(). */
const BUSY = new Set(["RATE_LIMITED", "OVERLOADED"]);
/** Answers that say nothing was stored yet and the same send may work later: stay pending. */
const TRANSIENT = new Set(["SERVICE_UNAVAILABLE", "TOKEN_EXPIRED"]);

interface Entry {
	message: ChatMessage;
	/** Busy refusals so far; reset by retry(). */
	refusals: number;
	/** Which attempt is under way: answers of older attempts are ignored, except a success. */
	attempt: number;
}

/**
 * The outbox (issue 10): send() gives a pending message at once; it goes out over the socket when
 * one is up, one at a time and in send order (so the server numbers them in that order), and is
 * resent with the same clientMsgId until acked: after a reconnect, a lost ack, SERVICE_UNAVAILABLE.
 * RATE_LIMITED and OVERLOADED wait retryAfter, a bounded number of times; other refusals fail.
 */
export class Outbox {
	private readonly entries = new Map<string, Entry>();
	private inFlight: string | null = null;
	private holdTimer: unknown = null;
	/** The hold waits for a lost ack or an outage, not for a server's retryAfter: a reconnect ends it. */
	private holdTransient = false;
	private readonly maxRetries: number;
	private readonly resendDelayMs: number;
	private readonly maxResendDelayMs: number;
	/** Lost acks and outage answers in a row: each one doubles the next wait, so a struggling server is not hammered. */
	private transientStreak = 0;
	private readonly setTimer: (fn: () => void, ms: number) => unknown;
	private readonly clearTimer: (timer: unknown) => void;

	constructor(
		private readonly transport: SendTransport,
		private readonly events: OutboxEvents,
		options: OutboxOptions = {}
	) {
		this.maxRetries = options.maxRetries ?? 3;
		this.resendDelayMs = options.resendDelayMs ?? 1000;
		this.maxResendDelayMs = options.maxResendDelayMs ?? 30_000;
		this.setTimer = options.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
		this.clearTimer = options.clearTimer ?? (timer => clearTimeout(timer as ReturnType<typeof setTimeout>));
	}

	/** Queues a new message and tries to send it. */
	add(conversationId: string, senderId: string, content: string, type: ClientMessageType): ChatMessage {
		const message: ChatMessage = {
			id: null,
			conversationId,
			senderId,
			type,
			content,
			seq: null,
			clientMsgId: newClientMsgId(),
			createdAt: new Date().toISOString(),
			status: "pending"
		};
		this.entries.set(message.clientMsgId, { message, refusals: 0, attempt: 0 });
		this.events.listChanged?.();
		this.flush();
		return message;
	}

	/**
	 * Puts back unsent messages saved before a reload (an OutboxStore), in their order and with their
	 * clientMsgId: one that reached the server before is answered with the stored original. Answers
	 * the messages taken (ones already here are skipped).
	 */
	restore(saved: ChatMessage[]): ChatMessage[] {
		const restored: ChatMessage[] = [];
		for (const item of saved) {
			if (this.entries.has(item.clientMsgId)) continue;
			const message: ChatMessage = { ...item, id: null, seq: null };
			this.entries.set(message.clientMsgId, { message, refusals: 0, attempt: 0 });
			restored.push(message);
		}
		this.flush();
		return restored;
	}

	get(clientMsgId: string): ChatMessage | undefined {
		return this.entries.get(clientMsgId)?.message;
	}

	/** Every message not stored yet, in send order. */
	list(): ChatMessage[] {
		return [...this.entries.values()].map(e => e.message);
	}

	/** Puts a failed message back in the queue; false when there is no such failed message. */
	retry(clientMsgId: string): boolean {
		const entry = this.entries.get(clientMsgId);
		if (!entry || entry.message.status !== "failed") return false;
		entry.message = { ...entry.message, status: "pending", error: undefined };
		delete entry.message.error;
		entry.refusals = 0;
		this.events.changed(entry.message);
		this.events.listChanged?.();
		this.flush();
		return true;
	}

	/** Removes a failed message (a pending one may already be stored: it cannot be taken back). */
	discard(clientMsgId: string): ChatMessage | undefined {
		const entry = this.entries.get(clientMsgId);
		if (!entry || entry.message.status !== "failed") return undefined;
		this.entries.delete(clientMsgId);
		this.events.listChanged?.();
		return entry.message;
	}

	/**
	 * The server's copy arrived (an ack, message:new from another device, sync or history): the
	 * entry is done, whatever attempt is under way. Returns the pending message it replaces.
	 */
	settle(stored: Message): ChatMessage | undefined {
		const entry = this.entries.get(stored.clientMsgId);
		if (!entry || entry.message.senderId !== stored.senderId) return undefined;
		this.entries.delete(stored.clientMsgId);
		if (this.inFlight === stored.clientMsgId) this.inFlight = null;
		// A wait for a lost ack or an outage ends with proof the server is storing again.
		this.endTransientHold();
		this.events.sent(entry.message, stored);
		this.events.listChanged?.();
		this.flush();
		return entry.message;
	}

	/** The socket went down: what was under way is resent after the reconnect (same clientMsgId). */
	interrupted(): void {
		this.inFlight = null;
	}

	/** A socket is up again: resend at once, unless the server asked to wait. */
	reconnected(): void {
		this.endTransientHold();
		this.flush();
	}

	/** Stops the hold timer (the socket was closed on purpose): the next reconnect sends again. */
	pause(): void {
		if (this.holdTimer !== null) this.clearTimer(this.holdTimer);
		this.holdTimer = null;
	}

	/** Drops everything (sign-out). */
	clear(): void {
		this.entries.clear();
		this.inFlight = null;
		this.pause();
	}

	/** Sends the oldest pending message when the socket is up and nothing else is under way. */
	flush(): void {
		if (this.inFlight !== null || this.holdTimer !== null || !this.transport.canSend()) return;
		const next = [...this.entries.values()].find(e => e.message.status === "pending");
		if (!next) return;
		const { message } = next;
		const attempt = ++next.attempt;
		this.inFlight = message.clientMsgId;
		const params: SendParams = {
			conversationId: message.conversationId,
			clientMsgId: message.clientMsgId,
			type: message.type as ClientMessageType,
			content: message.content
		};
		this.transport.send(params).then(
			ack => this.answered(message.clientMsgId, attempt, ack),
			() => this.answered(message.clientMsgId, attempt, null)
		);
	}

	private answered(clientMsgId: string, attempt: number, ack: Ack<{ message: Message }> | null): void {
		if (ack?.ok) {
			this.settle(ack.message);
			return;
		}
		const entry = this.entries.get(clientMsgId);
		if (!entry || entry.attempt !== attempt || this.inFlight !== clientMsgId) return;
		this.inFlight = null;
		const error = ack?.error;
		if (!error || TRANSIENT.has(error.code)) {
			// Lost ack or a passing outage: resend later with the same clientMsgId (the server answers with
			// the original if it was stored). After a disconnect the reconnect's flush comes first.
			const delay = Math.min(this.resendDelayMs * 2 ** this.transientStreak, this.maxResendDelayMs);
			this.transientStreak++;
			this.hold(delay, true);
			return;
		}
		if (BUSY.has(error.code) && entry.refusals < this.maxRetries) {
			entry.refusals++;
			this.hold(retryAfterMs(error), false);
			return;
		}
		entry.message = { ...entry.message, status: "failed", error };
		this.events.changed(entry.message);
		this.events.listChanged?.();
		this.flush();
	}

	/** Ends a wait for a lost ack or an outage, and its backoff; a wait the server asked for (retryAfter) stays. */
	private endTransientHold(): void {
		this.transientStreak = 0;
		if (this.holdTimer === null || !this.holdTransient) return;
		this.clearTimer(this.holdTimer);
		this.holdTimer = null;
	}

	/** Pauses every send (the server said to wait, or is unreachable), then goes on in order. */
	private hold(ms: number, transient: boolean): void {
		this.holdTransient = transient;
		this.holdTimer = this.setTimer(() => {
			this.holdTimer = null;
			this.flush();
		}, ms);
	}
}

function retryAfterMs(error: ClientError): number {
	const seconds = (error.details as { retryAfter?: unknown } | undefined)?.retryAfter;
	return (typeof seconds === "number" && seconds > 0 ? seconds : 1) * 1000;
}

/** A fresh clientMsgId: a UUID where the platform has one (browsers, Node 19+), else random hex. */
export function newClientMsgId(): string {
	const crypto = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
	if (crypto?.randomUUID) return crypto.randomUUID();
	let id = "";
	for (let i = 0; i < 32; i++) id += Math.floor(Math.random() * 16).toString(16);
	return `m-${Date.now().toString(36)}-${id}`;
}
