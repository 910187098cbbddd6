import type { MemberRole } from "./types";

interface Entry {
	role: MemberRole;
	expiresAt: number;
}

/**
 * Logic's own memory of "user U is in conversation C as R", so the membership check of a send
 * costs no call to repo. Only memberships are remembered (a refusal always asks again), for a
 * minute at most, the least recently used dropped past `max`; a membership change forgets the
 * whole conversation (repo broadcasts it to every node).
 */
export class MemberRoleCache {
	private readonly entries = new Map<string, Entry>();
	private readonly byConversation = new Map<string, Set<string>>();
	/** Counts membership changes: a role read before one must not be remembered after it. */
	generation = 0;

	constructor(
		private readonly max = 100_000,
		private readonly ttlMs = 60_000,
		private readonly now: () => number = Date.now
	) {}

	get size(): number {
		return this.entries.size;
	}

	get(conversationId: string, userId: string): MemberRole | undefined {
		const key = `${conversationId}|${userId}`;
		const entry = this.entries.get(key);
		if (!entry) return undefined;
		if (entry.expiresAt <= this.now()) {
			this.remove(key, conversationId);
			return undefined;
		}
		// Re-inserting keeps the Map in least-recently-used order.
		this.entries.delete(key);
		this.entries.set(key, entry);
		return entry.role;
	}

	/** Remembers a role read from repo when no membership changed since `readAtGeneration`. */
	set(conversationId: string, userId: string, role: MemberRole, readAtGeneration = this.generation): void {
		if (readAtGeneration !== this.generation) return;
		const key = `${conversationId}|${userId}`;
		this.entries.delete(key);
		this.entries.set(key, { role, expiresAt: this.now() + this.ttlMs });
		const keys = this.byConversation.get(conversationId);
		if (keys) keys.add(key);
		else this.byConversation.set(conversationId, new Set([key]));
		while (this.entries.size > this.max) {
			const oldest = this.entries.keys().next().value as string;
			this.remove(oldest, oldest.slice(0, oldest.lastIndexOf("|")));
		}
	}

	forgetConversation(conversationId: string): void {
		this.generation++;
		for (const key of this.byConversation.get(conversationId) ?? []) this.entries.delete(key);
		this.byConversation.delete(conversationId);
	}

	private remove(key: string, conversationId: string): void {
		this.entries.delete(key);
		const keys = this.byConversation.get(conversationId);
		keys?.delete(key);
		if (keys?.size === 0) this.byConversation.delete(conversationId);
	}
}
