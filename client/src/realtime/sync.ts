import type { Ack, SyncedConversation, SyncParams, SyncReply } from "../../../lib/contracts/client";

/** Most cursors one sync may carry (docs/realtime.md#sync). */
export const SINCE_MAX = 1000;

export interface SyncDeps {
	/** Sends `sync`; rejects when no ack came in time or the socket closed. */
	request(payload: SyncParams): Promise<Ack<SyncReply>>;
	/** The cursor of every conversation that has one. */
	cursors(): Map<string, number>;
	/** Stores an entry: sets its cursor only if it has none, stores its messages, updates read state. */
	apply(entry: SyncedConversation): void;
	sleep(ms: number): Promise<void>;
}

export interface SyncOutcome {
	/** The walk reached nextCursor null. */
	complete: boolean;
	/** Conversations that had news (one cut short counts once). */
	conversations: number;
	messages: number;
}

/** How often one page is asked again after RATE_LIMITED / OVERLOADED before the walk gives up. */
const BUSY_RETRIES = 10;

/**
 * The cursors to send: all of them, or past 1000 the first 1000 in ID order from the last
 * conversation received in this walk on (that one included).
 */
export function sinceFrom(cursors: Map<string, number>, lastSeen: string): Record<string, number> {
	let ids = [...cursors.keys()];
	if (ids.length > SINCE_MAX)
		ids = ids
			.filter(id => id >= lastSeen)
			.sort()
			.slice(0, SINCE_MAX);
	return Object.fromEntries(ids.map(id => [id, cursors.get(id) as number]));
}

/** One walk through every conversation, following nextCursor to null (docs/realtime.md#sync). */
export async function syncPages(deps: SyncDeps): Promise<SyncOutcome> {
	const outcome: SyncOutcome = { complete: false, conversations: 0, messages: 0 };
	let cursor: string | undefined;
	let lastSeen = "";
	let busy = 0;
	const seen = new Set<string>();
	for (;;) {
		// Cursors moved by the previous page go along: a listed entry cut short (hasMore) comes again first.
		const payload: SyncParams = { since: sinceFrom(deps.cursors(), lastSeen) };
		if (cursor !== undefined) payload.cursor = cursor;
		const reply = await deps.request(payload);
		if (!reply.ok) {
			const wait = (reply.error.details as { retryAfter?: unknown } | undefined)?.retryAfter;
			if (typeof wait !== "number" || busy++ >= BUSY_RETRIES) return outcome;
			await deps.sleep(Math.max(wait, 0.1) * 1000);
			continue;
		}
		busy = 0;
		for (const entry of reply.conversations) {
			deps.apply(entry);
			seen.add(entry.conversationId);
			outcome.conversations = seen.size;
			outcome.messages += entry.messages.length;
			lastSeen = entry.conversationId;
		}
		if (reply.nextCursor === null) {
			outcome.complete = true;
			return outcome;
		}
		cursor = reply.nextCursor;
	}
}

/**
 * Runs syncs one at a time: asked for during one, it runs once more after it (whatever changed
 * meanwhile is then covered). A walk cut off (timeout, disconnect) ends quietly: the next connect
 * or sync:required asks again.
 */
export class Syncer {
	private running: Promise<void> | null = null;
	private again = false;

	constructor(
		private readonly deps: SyncDeps,
		private readonly done: (outcome: SyncOutcome) => void
	) {}

	get busy(): boolean {
		return this.running !== null;
	}

	/** Resolves when the walk that covers this request ended. */
	request(): Promise<void> {
		if (this.running) {
			this.again = true;
			return this.running;
		}
		this.running = (async () => {
			do {
				this.again = false;
				const outcome = await syncPages(this.deps).catch((): SyncOutcome => ({
					complete: false,
					conversations: 0,
					messages: 0
				}));
				if (outcome.complete && !this.again) this.done(outcome);
			} while (this.again);
		})().finally(() => {
			this.running = null;
		});
		return this.running;
	}
}
