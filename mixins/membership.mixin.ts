import type { Context, Service, ServiceSchema } from "moleculer";
import { call } from "../lib/actions";
import { parseConversationId } from "../lib/conversation-id";
import { fail } from "../lib/errors";
import type { AuthMeta, Conversation, Membership } from "../lib/types";

export interface MemberAccess {
	conversation: Conversation;
	membership: Membership;
}

export interface MembershipThis {
	requireMember(ctx: Context<unknown, AuthMeta>, conversationId: string): Promise<MemberAccess>;
}

/** The one access rule of conversations: it must exist (404) and the caller must be in it (403). */
export function createMembershipMixin(): Partial<ServiceSchema> {
	return {
		methods: {
			async requireMember(this: Service, ctx: Context<unknown, AuthMeta>, conversationId: string): Promise<MemberAccess> {
				const userId = ctx.meta.userId;
				if (!userId) fail("UNAUTHORIZED", "Log in first");
				if (!parseConversationId(conversationId)) fail("CONVERSATION_NOT_FOUND", "No such conversation");
				const [conversation, membership] = await Promise.all([
					call(ctx, "repo.conversations.get", { id: conversationId }),
					call(ctx, "repo.conversations.membership", { conversationId, userId })
				]);
				if (!conversation) fail("CONVERSATION_NOT_FOUND", "No such conversation");
				if (!membership) fail("NOT_MEMBER", "You are not a member of this conversation");
				return { conversation, membership };
			}
		}
	};
}
