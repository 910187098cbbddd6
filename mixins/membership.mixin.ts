import type { Context, Service, ServiceSchema } from "moleculer";
import { call } from "../lib/actions";
import { parseConversationId } from "../lib/conversation-id";
import { fail } from "../lib/errors";
import type { AuthMeta, MemberRole } from "../lib/types";

export interface MembershipThis {
	requireMember(ctx: Context<unknown, AuthMeta>, conversationId: string): Promise<MemberRole>;
}

/**
 * The one access rule of conversations: it must exist (404) and the caller must be in it (403).
 * The role comes from a cache that membership changes clear; the conversation is read only to
 * tell "no such conversation" from "not yours".
 */
export function createMembershipMixin(): Partial<ServiceSchema> {
	return {
		methods: {
			async requireMember(this: Service, ctx: Context<unknown, AuthMeta>, conversationId: string): Promise<MemberRole> {
				const userId = ctx.meta.userId;
				if (!userId) fail("UNAUTHORIZED", "Log in first");
				if (!parseConversationId(conversationId)) fail("CONVERSATION_NOT_FOUND", "No such conversation");
				const role = await call(ctx, "repo.conversations.role", { conversationId, userId });
				if (role) return role;
				const conversation = await call(ctx, "repo.conversations.get", { id: conversationId });
				if (!conversation) fail("CONVERSATION_NOT_FOUND", "No such conversation");
				fail("NOT_MEMBER", "You are not a member of this conversation");
			}
		}
	};
}
