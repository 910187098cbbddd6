import type { StateStore } from "./state-store";

/**
 * Per-conversation sequence numbers (DECISIONS §4): INCR on the state store, seeded from the
 * database's highest seq when the key is missing, so a restart or a flushed store never
 * hands out a seq that was already used.
 */
export class SequenceStore {
	constructor(
		private readonly store: StateStore,
		private readonly highestStoredSeq: (conversationId: string) => Promise<number>,
		private readonly prefix = "seq:"
	) {}

	async next(conversationId: string): Promise<number> {
		const key = this.prefix + conversationId;
		if ((await this.store.get(key)) === null) {
			// Concurrent seeders race on SET NX; only the first one's value stands, then all INCR.
			await this.store.setNx(key, String(await this.highestStoredSeq(conversationId)));
		}
		return this.store.incr(key);
	}
}
