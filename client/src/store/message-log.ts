import type { Message } from "../../../lib/types";
import type { ChatMessage } from "../types";

export function toChatMessage(message: Message): ChatMessage {
	return { ...message, status: "sent" };
}

/**
 * One conversation's messages on this client: the stored ones (de-duplicated by id, kept by seq)
 * and the local ones (pending or failed, in send order), plus the sync cursor: the highest seq up
 * to which every message was received (docs/realtime.md "Reconnecting and catching up").
 *
 * At most `limit` stored messages are held (a tab open on the world room for days must not grow
 * without bound): past it the oldest ones at or below the cursor are dropped. They were received,
 * so the cursor stays; loadOlder() brings them back from history.
 */
export class MessageLog {
	private readonly bySeq = new Map<number, ChatMessage>();
	private readonly ids = new Set<string>();
	private local: ChatMessage[] = [];
	/** null until a sync (or seq 1, or knowing the conversation is empty) sets it. */
	private cursorSeq: number | null = null;
	private maxSeq = 0;
	private minSeq = 0;
	/** The highest seq dropped to stay within the limit: a late copy of one stays dropped. */
	private droppedUpTo = 0;
	private view: ChatMessage[] | null = null;

	constructor(
		readonly conversationId: string,
		private limit = Infinity
	) {}

	get cursor(): number | null {
		return this.cursorSeq;
	}

	/** The highest seq held, 0 when none. */
	get highestSeq(): number {
		return this.maxSeq;
	}

	/** The lowest seq held, 0 when none. */
	get lowestSeq(): number {
		return this.minSeq;
	}

	get size(): number {
		return this.bySeq.size;
	}

	/** Sets the cursor only when there is none: a later sync must not move it past a gap. */
	initCursor(seq: number): void {
		if (this.cursorSeq !== null) return;
		this.cursorSeq = Math.max(0, seq);
		this.advance();
	}

	/** A stored seq above the cursor means a message in between is missing (or the cursor is unset). */
	hasGap(): boolean {
		if (this.bySeq.size === 0) return false;
		return this.cursorSeq === null || this.maxSeq > this.cursorSeq;
	}

	has(id: string): boolean {
		return this.ids.has(id);
	}

	/** Adds a stored message; false when it is already held (same id, or its seq is taken). */
	add(message: Message): ChatMessage | null {
		if (this.ids.has(message.id) || this.bySeq.has(message.seq)) return null;
		if (message.seq <= this.droppedUpTo) return null;
		const stored = toChatMessage(message);
		this.bySeq.set(message.seq, stored);
		this.ids.add(message.id);
		this.maxSeq = Math.max(this.maxSeq, message.seq);
		this.minSeq = this.minSeq === 0 ? message.seq : Math.min(this.minSeq, message.seq);
		// seq starts at 1 without gaps, so holding 1 is holding everything below it.
		if (this.cursorSeq === null && message.seq === 1) this.cursorSeq = 0;
		this.advance();
		this.trim();
		this.view = null;
		return stored;
	}

	/** Keeps a page of `count` older messages from `fromSeq` on (loadOlder): the user scrolled back to see them. */
	makeRoom(count: number, fromSeq: number): void {
		this.limit = Math.max(this.limit, this.bySeq.size + count);
		this.droppedUpTo = Math.min(this.droppedUpTo, fromSeq - 1);
	}

	/** A pending or failed message (the outbox's), shown after the stored ones. */
	putLocal(message: ChatMessage): void {
		const at = this.local.findIndex(m => m.clientMsgId === message.clientMsgId);
		if (at >= 0) this.local[at] = message;
		else this.local.push(message);
		this.view = null;
	}

	removeLocal(clientMsgId: string): boolean {
		const before = this.local.length;
		this.local = this.local.filter(m => m.clientMsgId !== clientMsgId);
		this.view = before !== this.local.length ? null : this.view;
		return before !== this.local.length;
	}

	/** Stored messages by seq, then the local ones in send order. */
	messages(): ChatMessage[] {
		if (!this.view) {
			const stored = [...this.bySeq.values()].sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0));
			this.view = [...stored, ...this.local];
		}
		return this.view;
	}

	/** The newest message shown: a local one if any, else the stored one with the highest seq. */
	last(): ChatMessage | null {
		return this.local[this.local.length - 1] ?? this.bySeq.get(this.maxSeq) ?? null;
	}

	/** Drops the oldest messages past the limit, never above the cursor (those close a gap). */
	private trim(): void {
		while (this.bySeq.size > this.limit && this.cursorSeq !== null && this.minSeq <= this.cursorSeq) {
			const oldest = this.bySeq.get(this.minSeq) as ChatMessage;
			this.bySeq.delete(this.minSeq);
			this.ids.delete(oldest.id as string);
			this.droppedUpTo = Math.max(this.droppedUpTo, this.minSeq);
			if (this.bySeq.has(this.minSeq + 1)) this.minSeq++;
			else this.minSeq = this.bySeq.size > 0 ? Math.min(...this.bySeq.keys()) : 0;
		}
	}

	private advance(): void {
		if (this.cursorSeq === null) return;
		while (this.bySeq.has(this.cursorSeq + 1)) this.cursorSeq++;
	}
}
