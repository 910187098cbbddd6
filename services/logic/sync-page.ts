import { jsonBytes } from "../../lib/page-budget";
import type { SyncedConversation } from "../../lib/contracts/logic";
import type { ConversationWithMembership, ListMessagesParams, SizedPage } from "../../lib/contracts/repo";

/**
 * One `sync` reply, bounded: the caller's conversations in ID order after a position, those with
 * messages newer than the client's `since`, until the reply holds `maxConversations` of them or
 * `maxBytes` of JSON, or `maxVisited` conversations were looked at. Memberships are read a batch
 * at a time, never all of a user's at once. Plain code over two reads, so it is tested alone.
 */

export interface SyncLimits {
	maxConversations: number;
	/** The whole reply's JSON, entries and wrapper included (PAGE_MAX_BYTES). */
	maxBytes: number;
	/** Conversations looked at per reply, with news or not: bounds the work of a user with many. */
	maxVisited: number;
	/** Messages per conversation per reply. */
	perConversation: number;
	/** Memberships per read. */
	readBatch: number;
}

export interface SyncSources {
	/** The user's conversations whose IDs follow `afterId` ("" for the first), in ID order. */
	conversationsAfter(afterId: string, limit: number): Promise<ConversationWithMembership[]>;
	messages(params: ListMessagesParams): Promise<SizedPage>;
}

export interface SyncPage {
	conversations: SyncedConversation[];
	/** The ID the next reply goes on after; null when every conversation was looked at. */
	resumeAfter: string | null;
}

/** Room kept for the reply around its entries: {"ok":true,"conversations":[…],"nextCursor":"…"}. */
export const REPLY_OVERHEAD_BYTES = 200;

export async function collectSyncPage(
	sources: SyncSources,
	since: Record<string, number>,
	after: string,
	limits: SyncLimits
): Promise<SyncPage> {
	const conversations: SyncedConversation[] = [];
	let spent = REPLY_OVERHEAD_BYTES;
	let visited = 0;
	// Every conversation up to here is answered in full (or has no news).
	let position = after;
	const reply = (resumeAfter: string | null): SyncPage => ({ conversations, resumeAfter });

	for (;;) {
		const batch = Math.min(limits.readBatch, limits.maxVisited - visited);
		const rows = await sources.conversationsAfter(position, batch);
		for (const { conversation, membership } of rows) {
			visited++;
			const listedSeq = since[conversation.id];
			if (conversation.lastSeq > (listedSeq ?? 0)) {
				const head = {
					conversationId: conversation.id,
					lastSeq: conversation.lastSeq,
					readSeq: membership.readSeq,
					unreadCount: Math.max(0, conversation.lastSeq - membership.readSeq)
				};
				const headBytes = jsonBytes({ ...head, messages: [], hasMore: false });
				const first = conversations.length === 0;
				if (!first && spent + headBytes >= limits.maxBytes) return reply(position);
				// Listed: the oldest messages after the client's seq. Not listed: the newest ones.
				const page = await sources.messages({
					conversationId: conversation.id,
					afterSeq: listedSeq,
					limit: limits.perConversation,
					lastSeq: conversation.lastSeq,
					maxBytes: Math.max(1, limits.maxBytes - spent - headBytes),
					// The first entry always gets a message, so every reply moves the client on.
					allowEmpty: !first
				});
				// Not even one more message fits: this conversation opens the next reply.
				if (page.messages.length === 0 && !first) return reply(position);
				conversations.push({ ...head, messages: page.messages, hasMore: page.hasMore });
				spent += headBytes + page.bytes;
				// Listed with more to come: the next reply opens with it again, reading on from the `since` sent then.
				if (page.hasMore && listedSeq !== undefined) return reply(position);
			}
			position = conversation.id;
			if (conversations.length >= limits.maxConversations || spent >= limits.maxBytes) return reply(position);
		}
		if (rows.length < batch) return reply(null);
		if (visited >= limits.maxVisited) return reply(position);
	}
}
