import type { Context, Service, ServiceSchema } from "moleculer";
import { call } from "../lib/actions";
import { parseConversationId } from "../lib/conversation-id";
import { fail } from "../lib/errors";
import { MemberRoleCache } from "../lib/member-role-cache";
import type { AuthMeta, MemberRole } from "../lib/types";
import { MEMBERS_CHANGED_EVENT } from "../services/repo/membership-cache";

export interface MembershipThis {
	requireMember(ctx: Context<unknown, AuthMeta>, conversationId: string): Promise<MemberRole>;
}

type MembershipService = Service & MembershipThis & { memberRoles: MemberRoleCache };

/**
 * The one access rule of conversations: it must exist (404) and the caller must be in it (403).
 * A member's role is remembered in this process until the conversation's members change, so the
 * check of a send usually costs no call at all; the conversation is read only to tell "no such
 * conversation" from "not yours".
 */
export function createMembershipMixin(): Partial<ServiceSchema> {
	return {
		events: {
			[MEMBERS_CHANGED_EVENT]: {
				params: { conversationId: "string" },
				handler(this: MembershipService, ctx: Context<{ conversationId: string }>) {
					this.memberRoles.forgetConversation(ctx.params.conversationId);
				}
			}
		},

		methods: {
			async requireMember(this: MembershipService, ctx: Context<unknown, AuthMeta>, conversationId: string): Promise<MemberRole> {
				const userId = ctx.meta.userId;
				if (!userId) fail("UNAUTHORIZED", "Log in first");
				if (!parseConversationId(conversationId)) fail("CONVERSATION_NOT_FOUND", "No such conversation");
				const known = this.memberRoles.get(conversationId, userId);
				if (known) return known;
				const generation = this.memberRoles.generation;
				const role = await call(ctx, "repo.conversations.role", { conversationId, userId });
				if (role) {
					this.memberRoles.set(conversationId, userId, role, generation);
					return role;
				}
				const conversation = await call(ctx, "repo.conversations.get", { id: conversationId });
				if (!conversation) fail("CONVERSATION_NOT_FOUND", "No such conversation");
				fail("NOT_MEMBER", "You are not a member of this conversation");
			}
		},

		created(this: Service) {
			(this as MembershipService).memberRoles = new MemberRoleCache();
		}
	};
}
