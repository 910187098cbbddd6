import type { Context, Service, ServiceSchema } from "moleculer";
import { call } from "../lib/contracts";
import { parseConversationId } from "../lib/conversation-id";
import { fail } from "../lib/errors";
import { MemberRoleCache } from "../lib/member-role-cache";
import type { AuthMeta, MemberRole } from "../lib/types";
import { MEMBERS_CHANGED_EVENT } from "../lib/contracts/events";
import { NEVER_DROPPED } from "../lib/resilience";

export interface MembershipThis {
	requireMember(ctx: Context<unknown, AuthMeta>, conversationId: string): Promise<MemberRole>;
}

type MembershipService = Service & MembershipThis & { memberRoles: MemberRoleCache };

/** A non-member hears the same whether the conversation exists or not, so IDs cannot be probed. */
export const CONVERSATION_NOT_FOUND_MESSAGE = "No such conversation, or you are not a member";

/**
 * The one access rule of conversations: the caller must be in it, else 404 whether it exists or
 * not. A member's role is remembered in this process until the conversation's members change, so
 * the check of a send usually costs no call at all.
 */
export function createMembershipMixin(): Partial<ServiceSchema> {
	return {
		events: {
			[MEMBERS_CHANGED_EVENT]: {
				bulkhead: NEVER_DROPPED,
				params: { conversationId: "string" },
				handler(this: MembershipService, ctx: Context<{ conversationId: string }>) {
					this.memberRoles.forgetConversation(ctx.params.conversationId);
				}
			}
		},

		methods: {
			async requireMember(
				this: MembershipService,
				ctx: Context<unknown, AuthMeta>,
				conversationId: string
			): Promise<MemberRole> {
				const userId = ctx.meta.userId;
				if (!userId) fail("UNAUTHORIZED", "Log in first");
				if (!parseConversationId(conversationId))
					fail("CONVERSATION_NOT_FOUND", CONVERSATION_NOT_FOUND_MESSAGE);
				const known = this.memberRoles.get(conversationId, userId);
				if (known) return known;
				const generation = this.memberRoles.generation;
				const role = await call(ctx, "repo.members.role", { conversationId, userId });
				if (role) {
					this.memberRoles.set(conversationId, userId, role, generation);
					return role;
				}
				fail("CONVERSATION_NOT_FOUND", CONVERSATION_NOT_FOUND_MESSAGE);
			}
		},

		created(this: Service) {
			(this as MembershipService).memberRoles = new MemberRoleCache();
		}
	};
}
