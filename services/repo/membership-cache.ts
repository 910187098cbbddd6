import type { ServiceBroker } from "moleculer";

/** The cached answer to "is this user in this conversation, and as what" (repo.conversations.role). */
export const ROLE_ACTION = "repo.conversations.role";
export const MEMBERS_CHANGED_EVENT = "repo.members.changed";

/** Cache keys of ROLE_ACTION are "<action>:<conversationId>|<userId>". */
export function rolePattern(conversationId: string): string {
	return `${ROLE_ACTION}:${conversationId}|**`;
}

/**
 * Drops the cached roles of a conversation after its members changed: here at once, so the next
 * request of this very flow sees the change, and on every other node through the event.
 */
export async function forgetMembers(broker: ServiceBroker, conversationId: string): Promise<void> {
	await broker.cacher?.clean(rolePattern(conversationId));
	broker.broadcast(MEMBERS_CHANGED_EVENT, { conversationId });
}
