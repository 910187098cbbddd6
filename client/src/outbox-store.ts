import { type KeyValueStorage, webStorage } from "./token-store";
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
		const found = storage ?? webStorage("sessionStorage");
		if (!found) throw new TypeError("WebStorageOutboxStore needs a storage: no sessionStorage here");
		this.storage = found;
	}

	load(userId: string): ChatMessage[] {
		try {
			const saved: unknown = JSON.parse(this.storage.getItem(this.prefix + userId) ?? "[]");
			return Array.isArray(saved) ? saved.filter(item => isUnsent(item, userId)).slice(0, OUTBOX_STORE_MAX) : [];
		} catch {
			return [];
		}
	}

	/** Past the cap, pending messages are kept before failed ones: they are the ones still to be sent. */
	save(userId: string, messages: ChatMessage[]): void {
		const key = this.prefix + userId;
		const pending = messages.filter(m => m.status === "pending");
		const kept = new Set([...pending, ...messages.filter(m => m.status !== "pending")].slice(0, OUTBOX_STORE_MAX));
		try {
			if (kept.size === 0) this.storage.removeItem(key);
			else this.storage.setItem(key, JSON.stringify(messages.filter(m => kept.has(m))));
		} catch {
			// Over the quota: an older copy left behind would bring back messages sent or discarded since.
			// Without it a reload loses the unsent ones; until then they are sent from memory.
			try {
				this.storage.removeItem(key);
			} catch {
				// Storage unusable: nothing is kept.
			}
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
