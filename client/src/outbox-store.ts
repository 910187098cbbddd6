import type { KeyValueStorage } from "./token-store";
import type { ChatMessage, OutboxStore } from "./types";

/** At most this many unsent messages are kept per user: a store is no place for an unbounded queue. */
export const OUTBOX_STORE_MAX = 200;

/**
 * Keeps a user's unsent messages (pending and failed) in Web Storage, so a reload sends them
 * instead of losing them; a resend reuses their clientMsgId, so one that did reach the server is
 * not stored twice. sessionStorage by default: it survives a reload of the tab, and two tabs never
 * overwrite each other's queue (localStorage would be shared by every tab of the origin).
 */
export class WebStorageOutboxStore implements OutboxStore {
	private readonly storage: KeyValueStorage;

	constructor(
		storage?: KeyValueStorage,
		private readonly prefix = "gochat.outbox."
	) {
		const found = storage ?? (globalThis as { sessionStorage?: KeyValueStorage }).sessionStorage;
		if (!found) throw new TypeError("WebStorageOutboxStore needs a storage: no sessionStorage here");
		this.storage = found;
	}

	load(userId: string): ChatMessage[] {
		const text = this.storage.getItem(this.prefix + userId);
		if (!text) return [];
		try {
			const saved: unknown = JSON.parse(text);
			return Array.isArray(saved) ? saved.filter(item => isUnsent(item, userId)).slice(0, OUTBOX_STORE_MAX) : [];
		} catch {
			return [];
		}
	}

	save(userId: string, messages: ChatMessage[]): void {
		const key = this.prefix + userId;
		try {
			if (messages.length === 0) this.storage.removeItem(key);
			else this.storage.setItem(key, JSON.stringify(messages.slice(0, OUTBOX_STORE_MAX)));
		} catch {
			// Over the storage quota: the messages stay in memory and are still sent; only a reload would lose them.
		}
	}
}

/** A message this user queued, as saved: anything else (edited by hand, another user's) is dropped. */
function isUnsent(item: unknown, userId: string): item is ChatMessage {
	const m = item as Partial<ChatMessage> | null;
	return (
		typeof m === "object" &&
		m !== null &&
		m.senderId === userId &&
		(m.status === "pending" || m.status === "failed") &&
		typeof m.conversationId === "string" &&
		typeof m.clientMsgId === "string" &&
		m.clientMsgId.length > 0 &&
		typeof m.content === "string" &&
		typeof m.type === "string" &&
		typeof m.createdAt === "string"
	);
}
