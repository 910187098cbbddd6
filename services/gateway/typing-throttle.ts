/** A client may send one typing notice per conversation this often; faster ones are refused. */
export const TYPING_INTERVAL_MS = 1000;
/** Conversations one socket's throttle remembers; the least recently typed in is forgotten first. */
export const TYPING_REMEMBERED = 64;

/**
 * One socket's typing throttle. A notice holds its conversation's window while it is carried out
 * and keeps it only if it succeeded, so conversations the user is not in never stay in memory
 * (those are bounded by the socket's event rate instead), and the map never outgrows its bound.
 */
export class TypingThrottle {
	private readonly sentAt = new Map<string, number>();

	constructor(
		private readonly intervalMs = TYPING_INTERVAL_MS,
		private readonly remembered = TYPING_REMEMBERED
	) {}

	/** Milliseconds until this conversation may get another notice; 0 if now. */
	waitMs(conversationId: string, now = Date.now()): number {
		const last = this.sentAt.get(conversationId);
		return last === undefined ? 0 : Math.max(0, last + this.intervalMs - now);
	}

	/** Holds the window for a notice about to be carried out; returns how to give it back if it fails. */
	hold(conversationId: string, now = Date.now()): () => void {
		this.sentAt.delete(conversationId);
		this.sentAt.set(conversationId, now);
		if (this.sentAt.size > this.remembered) this.sentAt.delete(this.sentAt.keys().next().value!);
		return () => {
			if (this.sentAt.get(conversationId) === now) this.sentAt.delete(conversationId);
		};
	}

	get size(): number {
		return this.sentAt.size;
	}
}
