import type { SyncedConversation } from "../../../lib/contracts/client";
import type { ConversationSummary, Message } from "../../../lib/types";
import type { ChatMessage, ClientEvents, ConversationView } from "../types";
import { ConversationList } from "./conversation-list";
import { MessageLog } from "./message-log";

export interface ChatStoreHooks {
	/** The signed-in user's id. */
	me(): string | undefined;
	/** A stored copy of one of our pending messages (ack, sync, history): true when the outbox took it. */
	settle(message: Message): boolean;
	emit<E extends keyof ClientEvents>(event: E, payload: ClientEvents[E]): void;
	/** A conversation showed up before its summary (a push or sync of a group you were added to). */
	unknown(conversationId: string): void;
	/** A message landed above a gap in its conversation. */
	gap(): void;
}

/**
 * What the signed-in user sees: the conversation list and each conversation's messages, fed by
 * pushes, syncs, history, acks and the outbox, and told to the app as ClientEvents. Knows nothing
 * of sockets or REST.
 */
export class ChatStore {
	private readonly list = new ConversationList();
	private readonly logs = new Map<string, MessageLog>();
	private listChanged = false;
	/** Moves on every reset: an answer asked for before it belongs to another user. */
	generation = 0;

	constructor(
		private readonly hooks: ChatStoreHooks,
		private readonly maxMessages: number
	) {}

	/** Every conversation known here, newest activity first (copies). */
	conversations(): ConversationView[] {
		return this.list.list().map(row => ({ ...row }));
	}

	row(conversationId: string): ConversationView | undefined {
		return this.list.get(conversationId);
	}

	messages(conversationId: string): ChatMessage[] {
		return [...(this.logs.get(conversationId)?.messages() ?? [])];
	}

	/** Whether older messages exist than the oldest held (seqs start at 1 with no gaps). */
	hasOlder(conversationId: string): boolean {
		const log = this.logs.get(conversationId);
		if (log && log.size > 0) return log.lowestSeq > 1;
		return (this.list.get(conversationId)?.lastSeq ?? 0) > 0;
	}

	lowestSeq(conversationId: string): number {
		return this.logs.get(conversationId)?.lowestSeq ?? 0;
	}

	/** A page of history before the oldest held: kept even past the per-conversation limit. Answers how many were new. */
	addOlder(conversationId: string, messages: Message[]): number {
		if (messages.length > 0) this.logOf(conversationId).makeRoom(messages.length, messages[0].seq);
		let added = 0;
		for (const message of messages) if (this.ingest(message)) added++;
		this.changed();
		return added;
	}

	/** A REST summary (list, openDirect): title, read position; an empty conversation has nothing to catch up on. */
	merge(summary: ConversationSummary): ConversationView {
		const row = this.list.merge(summary);
		// A message still pending here (restored after a reload, say) stays the row's last one.
		const last = this.logs.get(summary.id)?.last();
		if (last?.seq === null) this.list.offerLast(summary.id, last);
		if (summary.lastSeq === 0) this.logOf(summary.id).initCursor(0);
		this.changed();
		return row;
	}

	/** A group just created here: empty, so its cursor starts at 0. */
	addGroup(conversationId: string, name: string, createdAt: string): ConversationView {
		const row = this.list.name(conversationId, "group", name, createdAt);
		this.logOf(conversationId).initCursor(0);
		this.changed();
		return row;
	}

	/** A stored message from anywhere (push, sync, history, ack); false when it was already held. */
	ingest(message: Message): boolean {
		const { created } = this.list.ensure(message.conversationId, message.createdAt);
		if (created) this.hooks.unknown(message.conversationId);
		// A copy of one of our pending messages (sync or another path came before the ack): it is sent.
		if (this.hooks.settle(message)) return true;
		const log = this.logOf(message.conversationId);
		const stored = log.add(message);
		if (!stored) return false;
		this.list.offerLast(message.conversationId, log.last());
		// Sending moves the sender's own read position (docs/api.md "Sequence numbers and unread counts").
		if (message.senderId === this.hooks.me()) this.movePositions(message.conversationId, message.seq, message.seq);
		else this.list.positions(message.conversationId, message.seq);
		this.hooks.emit("message", { conversationId: message.conversationId, message: stored, change: "added" });
		if (log.hasGap()) this.hooks.gap();
		this.changed();
		return true;
	}

	/** One of our pending messages was stored: it takes its place by seq. */
	sent(pending: ChatMessage, stored: Message): void {
		const log = this.logOf(stored.conversationId);
		log.removeLocal(pending.clientMsgId);
		// Stored long before what is held (a restored message whose ack was lost before a reload): held
		// there it would leave a hole that scroll-back never fills; history brings it in its place.
		const detached = log.size > 0 && stored.seq < log.lowestSeq - 1;
		const added = detached ? null : log.add(stored);
		const shown = added ?? log.messages().find(m => m.id === stored.id) ?? { ...stored, status: "sent" as const };
		this.list.offerLast(stored.conversationId, log.last());
		this.movePositions(stored.conversationId, stored.seq, stored.seq);
		this.hooks.emit("message", { conversationId: stored.conversationId, message: shown, change: "updated" });
		if (log.hasGap()) this.hooks.gap();
		this.changed();
	}

	/** A pending or failed message into its conversation's log and row. */
	showLocal(message: ChatMessage, change: "added" | "updated"): void {
		this.logOf(message.conversationId).putLocal(message);
		const { created } = this.list.ensure(message.conversationId, message.createdAt);
		if (created) this.hooks.unknown(message.conversationId);
		this.list.offerLast(message.conversationId, message);
		this.hooks.emit("message", { conversationId: message.conversationId, message, change });
		this.changed();
	}

	/** A failed message the user discarded. */
	removeLocal(conversationId: string, clientMsgId: string): void {
		const log = this.logOf(conversationId);
		log.removeLocal(clientMsgId);
		this.list.offerLast(conversationId, null);
		this.list.offerLast(conversationId, log.last());
		this.hooks.emit("message:removed", { conversationId, clientMsgId });
		this.changed();
	}

	applySynced(entry: SyncedConversation): void {
		const log = this.logOf(entry.conversationId);
		// New to this device: the cursor starts just below the newest messages sync sent.
		if (entry.messages.length > 0) log.initCursor(entry.messages[0].seq - 1);
		for (const message of entry.messages) this.ingest(message);
		this.movePositions(entry.conversationId, entry.lastSeq, entry.readSeq);
	}

	/** Moves a row's positions forward; emits `read` when the read position moved. */
	movePositions(conversationId: string, lastSeq: number, readSeq: number): void {
		const readBefore = this.list.get(conversationId)?.readSeq;
		const row = this.list.positions(conversationId, lastSeq, readSeq);
		if (row.readSeq !== readBefore) {
			this.hooks.emit("read", { conversationId, readSeq: row.readSeq, unreadCount: row.unreadCount });
		}
		this.changed();
	}

	/** The sync cursor of every conversation that has one. */
	cursors(): Map<string, number> {
		const cursors = new Map<string, number>();
		for (const [id, log] of this.logs) if (log.cursor !== null) cursors.set(id, log.cursor);
		return cursors;
	}

	hasGap(): boolean {
		for (const log of this.logs.values()) if (log.hasGap()) return true;
		return false;
	}

	/** Another user signs in, or this one signed out: nothing of the old state may show. */
	reset(): void {
		this.generation++;
		this.logs.clear();
		this.list.clear();
		this.changed();
	}

	/** One "conversations" event per burst of changes (a sync page changes many rows). */
	changed(): void {
		if (this.listChanged) return;
		this.listChanged = true;
		void Promise.resolve().then(() => {
			this.listChanged = false;
			this.hooks.emit("conversations", { conversations: this.conversations() });
		});
	}

	private logOf(conversationId: string): MessageLog {
		let log = this.logs.get(conversationId);
		if (!log) this.logs.set(conversationId, (log = new MessageLog(conversationId, this.maxMessages)));
		return log;
	}
}
