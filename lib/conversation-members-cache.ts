interface Entry {
	/** The members, or null when there are more than the inline fan-out limit. */
	userIds: string[] | null;
	expiresAt: number;
}

/**
 * Delivery's memory of who is in each small group, so pushing a group message reads no member
 * rows. Forgotten when the group's members change (repo broadcasts it to every node), after a
 * minute at most, and least recently used first past `max` conversations.
 */
export class ConversationMembersCache {
	private readonly entries = new Map<string, Entry>();
	/** Counts membership changes: a list read before one must not be remembered after it. */
	generation = 0;

	constructor(
		private readonly max = 10_000,
		private readonly ttlMs = 60_000,
		private readonly now: () => number = Date.now
	) {}

	get(conversationId: string): string[] | null | undefined {
		const entry = this.entries.get(conversationId);
		if (!entry) return undefined;
		this.entries.delete(conversationId);
		if (entry.expiresAt <= this.now()) return undefined;
		this.entries.set(conversationId, entry);
		return entry.userIds;
	}

	set(conversationId: string, userIds: string[] | null, readAtGeneration: number): void {
		if (readAtGeneration !== this.generation) return;
		this.entries.delete(conversationId);
		this.entries.set(conversationId, { userIds, expiresAt: this.now() + this.ttlMs });
		if (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value as string);
	}

	forget(conversationId: string): void {
		this.generation++;
		this.entries.delete(conversationId);
	}
}
