import type { ConversationSummary, ConversationType } from "../../../lib/types";
import type { ChatMessage, ConversationView } from "../types";
import { toChatMessage } from "./message-log";

/** The type a conversation ID names (docs/api.md "Conversation IDs"). */
export function typeOf(conversationId: string): ConversationType {
	if (conversationId === "world") return "world";
	return conversationId.startsWith("group_") ? "group" : "direct";
}

/**
 * The conversation list: one row per conversation, kept from REST summaries, pushes, syncs and
 * reads. Positions only move forward (lastSeq, readSeq), so late or repeated news cannot undo newer.
 */
export class ConversationList {
	private readonly rows = new Map<string, ConversationView>();

	get(conversationId: string): ConversationView | undefined {
		return this.rows.get(conversationId);
	}

	/** Newest activity first, then by ID (the server's list order). */
	list(): ConversationView[] {
		return [...this.rows.values()].sort((a, b) =>
			a.updatedAt === b.updatedAt ? (a.id < b.id ? -1 : 1) : a.updatedAt < b.updatedAt ? 1 : -1
		);
	}

	clear(): void {
		this.rows.clear();
	}

	/** A row for a conversation seen before its summary: titled by its ID until the REST list names it. */
	ensure(conversationId: string, at = new Date(0).toISOString()): { row: ConversationView; created: boolean } {
		const row = this.rows.get(conversationId);
		if (row) return { row, created: false };
		const created: ConversationView = {
			id: conversationId,
			type: typeOf(conversationId),
			title: conversationId === "world" ? "World" : conversationId,
			lastMessage: null,
			lastSeq: 0,
			readSeq: 0,
			unreadCount: 0,
			updatedAt: at
		};
		this.rows.set(conversationId, created);
		return { row: created, created: true };
	}

	/** A row with its type and title known (a group just created). */
	name(conversationId: string, type: ConversationType, title: string, at: string): ConversationView {
		const { row } = this.ensure(conversationId, at);
		row.type = type;
		row.title = title;
		return row;
	}

	/** Merges a REST summary: its title and type win, positions take the furthest. */
	merge(summary: ConversationSummary): ConversationView {
		const { row } = this.ensure(summary.id, summary.updatedAt);
		row.type = summary.type;
		row.title = summary.title;
		if (summary.lastMessage) this.offerLast(row.id, toChatMessage(summary.lastMessage));
		this.positions(row.id, summary.lastSeq, summary.readSeq);
		if (summary.updatedAt > row.updatedAt) row.updatedAt = summary.updatedAt;
		return row;
	}

	/** Moves lastSeq and readSeq forward (never back) and recomputes the unread count. */
	positions(conversationId: string, lastSeq: number, readSeq?: number): ConversationView {
		const { row } = this.ensure(conversationId);
		// The server caps a read position at lastSeq, so a higher one means messages this row has not seen yet.
		row.lastSeq = Math.max(row.lastSeq, lastSeq, readSeq ?? 0);
		if (readSeq !== undefined) row.readSeq = Math.max(row.readSeq, readSeq);
		row.unreadCount = Math.max(0, row.lastSeq - row.readSeq);
		return row;
	}

	/**
	 * Offers the newest message shown in a conversation as its last message: a pending one (no seq)
	 * always wins, a stored one only when it is not older than the current one. null drops a
	 * last message that was pending (discarded).
	 */
	offerLast(conversationId: string, candidate: ChatMessage | null): void {
		const { row } = this.ensure(conversationId);
		const current = row.lastMessage;
		if (!candidate) {
			if (current && current.seq === null) row.lastMessage = null;
			return;
		}
		if (
			candidate.seq === null ||
			!current ||
			current.seq === null ||
			current.clientMsgId === candidate.clientMsgId ||
			candidate.seq >= current.seq
		) {
			row.lastMessage = candidate;
			if (candidate.seq !== null) this.positions(conversationId, candidate.seq);
			if (candidate.createdAt > row.updatedAt) row.updatedAt = candidate.createdAt;
		}
	}
}
