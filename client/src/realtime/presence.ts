import { PRESENCE_QUERY_MAX_USERS } from "../../../lib/contracts/client";
import type { PresenceState } from "../../../lib/contracts/client";

/**
 * Who is online, as far as this client knows: a snapshot asked for after each connect (and for a
 * new 1:1 peer), then the `presence` events. An event pushed while a snapshot was on its way is
 * newer than the snapshot's answer, so the answer does not overwrite it.
 */
export class PresenceBook {
	private readonly online = new Map<string, boolean>();
	private readonly changedAt = new Map<string, number>();
	private clock = 0;

	get(userId: string): boolean | undefined {
		return this.online.get(userId);
	}

	has(userId: string): boolean {
		return this.online.has(userId);
	}

	/** A pushed change; true when it changed what was known. */
	apply(userId: string, online: boolean): boolean {
		this.changedAt.set(userId, ++this.clock);
		const before = this.online.get(userId);
		this.online.set(userId, online);
		return before !== online;
	}

	/** Taken when a snapshot is asked for; give it back with the answer. */
	mark(): number {
		return this.clock;
	}

	/** A snapshot's answer; returns the users whose state it changed. */
	applySnapshot(states: PresenceState[], askedAt: number): { userId: string; online: boolean }[] {
		const changed: { userId: string; online: boolean }[] = [];
		for (const { userId, online } of states) {
			if (online === null || (this.changedAt.get(userId) ?? 0) > askedAt) continue;
			if (this.online.get(userId) !== online) changed.push({ userId, online });
			this.online.set(userId, online);
		}
		return changed;
	}

	clear(): void {
		this.online.clear();
		this.changedAt.clear();
	}
}

/**
 * Takes the presence snapshot (GET /presence, PRESENCE_QUERY_MAX_USERS at a time) into the book;
 * a failure leaves it to the events. `stale()` says the answer no longer matters (signed out).
 */
export async function askPresence(
	book: PresenceBook,
	query: (userIds: string[]) => Promise<{ presence: PresenceState[] }>,
	userIds: string[],
	changed: (change: { userId: string; online: boolean }) => void,
	stale: () => boolean
): Promise<void> {
	for (let i = 0; i < userIds.length; i += PRESENCE_QUERY_MAX_USERS) {
		const askedAt = book.mark();
		let states: PresenceState[];
		try {
			({ presence: states } = await query(userIds.slice(i, i + PRESENCE_QUERY_MAX_USERS)));
		} catch {
			return;
		}
		if (stale()) return;
		for (const change of book.applySnapshot(states, askedAt)) changed(change);
	}
}

/** The other user of a 1:1 conversation ("single_<a>_<b>"), or null for any other conversation. */
export function directPeer(conversationId: string, me: string): string | null {
	const match = /^single_(\d+)_(\d+)$/.exec(conversationId);
	if (!match) return null;
	if (match[1] === me) return match[2];
	return match[2] === me ? match[1] : null;
}
