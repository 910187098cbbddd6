import type { Context, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { call, serviceActions } from "../../lib/contracts";
import { groupConversationId } from "../../lib/conversation-id";
import { fail } from "../../lib/errors";
import { NO_RETRY } from "../../lib/resilience";
import type { AuthMeta, Group, GroupAddRefusal, GroupMember, Membership, MemberRole } from "../../lib/types";
import { displayNameRule, idListRule, idRule, pageLimitRule } from "../../lib/validation";
import { createSnowflakeMixin, SnowflakeThis } from "../../mixins/snowflake.mixin";
import { ConfigThis, createConfigMixin } from "../../mixins/config.mixin";

interface GroupsMethods {
	access(ctx: AuthedContext, groupId: string): Promise<{ group: Group; membership: Membership }>;
	requireManager(membership: Membership): void;
	requireUsersExist(ctx: Context, userIds: string[]): Promise<void>;
}
type GroupsThis = Service & ConfigThis & SnowflakeThis & GroupsMethods;
type AuthedContext<P = unknown> = Context<P, Required<AuthMeta>>;

/** A non-member hears the same whether the group exists or not, so IDs cannot be probed. */
export const GROUP_NOT_FOUND_MESSAGE = "No such group, or you are not a member";

/** At most this many user IDs in one create or add request; bigger groups are built in steps. */
export const MAX_IDS_PER_REQUEST = 1000;

const unique = (ids: string[]) => [...new Set(ids)];

/**
 * Groups: create, inspect, and manage members. The owner and admins add and remove; a user is
 * added only with their consent (their groupAddPolicy, and no block of the group), and can block
 * a group to leave it for good.
 */
const GroupsService: ServiceSchema<ServiceSettingSchema, GroupsThis> = {
	name: "groups",
	mixins: [createConfigMixin(), createSnowflakeMixin()],

	actions: serviceActions("groups", {
		create: {
			retryPolicy: NO_RETRY,
			params: { name: displayNameRule, memberIds: { ...idListRule(MAX_IDS_PER_REQUEST), optional: true } },
			async handler(
				this: GroupsThis,
				ctx: AuthedContext<{ name: string; memberIds?: string[] }>
			): Promise<{ group: Group; refused: GroupAddRefusal[] }> {
				const ownerId = ctx.meta.userId;
				const memberIds = unique(ctx.params.memberIds ?? []).filter(id => id !== ownerId);
				const maxMembers = this.config.groupMaxMembers;
				if (memberIds.length + 1 > maxMembers) {
					fail("GROUP_FULL", `A group holds at most ${maxMembers} members`, { maxMembers });
				}
				await this.requireUsersExist(ctx, memberIds);
				return call(ctx, "repo.members.createGroup", {
					id: this.nextId(),
					name: ctx.params.name,
					ownerId,
					memberIds,
					maxMembers
				});
			}
		},

		get: {
			params: { id: idRule },
			async handler(this: GroupsThis, ctx: AuthedContext<{ id: string }>): Promise<{ group: Group }> {
				const { group } = await this.access(ctx, ctx.params.id);
				return { group };
			}
		},

		members: {
			params: { id: idRule, limit: pageLimitRule(1000), after: { ...idRule, optional: true } },
			async handler(
				this: GroupsThis,
				ctx: AuthedContext<{ id: string; limit?: number; after?: string }>
			): Promise<{ members: GroupMember[]; nextCursor: string | null }> {
				await this.access(ctx, ctx.params.id);
				const limit = ctx.params.limit ?? 100;
				const page = await call(ctx, "repo.members.list", {
					conversationId: groupConversationId(ctx.params.id),
					limit,
					afterUserId: ctx.params.after
				});
				const users = await call(ctx, "repo.users.getMany", { ids: page.map(m => m.userId) });
				const userById = new Map(users.map(u => [u.id, u]));
				return {
					members: page.map(m => ({
						userId: m.userId,
						role: m.role,
						joinedAt: m.joinedAt,
						user: userById.get(m.userId) ?? null
					})),
					nextCursor: page.length === limit ? page[page.length - 1].userId : null
				};
			}
		},

		addMembers: {
			retryPolicy: NO_RETRY,
			params: { id: idRule, userIds: { ...idListRule(MAX_IDS_PER_REQUEST), min: 1 } },
			async handler(
				this: GroupsThis,
				ctx: AuthedContext<{ id: string; userIds: string[] }>
			): Promise<{ group: Group; added: string[]; refused: GroupAddRefusal[] }> {
				const { membership } = await this.access(ctx, ctx.params.id);
				this.requireManager(membership);
				const userIds = unique(ctx.params.userIds);
				await this.requireUsersExist(ctx, userIds);
				return call(ctx, "repo.members.addToGroup", {
					groupId: ctx.params.id,
					adderId: ctx.meta.userId,
					userIds,
					maxMembers: this.config.groupMaxMembers
				});
			}
		},

		removeMember: {
			retryPolicy: NO_RETRY,
			params: { id: idRule, userId: idRule },
			async handler(
				this: GroupsThis,
				ctx: AuthedContext<{ id: string; userId: string }>
			): Promise<{ group: Group }> {
				const { membership } = await this.access(ctx, ctx.params.id);
				if (ctx.params.userId !== ctx.meta.userId) {
					this.requireManager(membership);
					const target = await call(ctx, "repo.members.get", {
						conversationId: groupConversationId(ctx.params.id),
						userId: ctx.params.userId
					});
					if (!target) fail("MEMBER_NOT_FOUND", "That user is not a member of this group");
					if (target.role === "owner") fail("FORBIDDEN", "The owner cannot be removed");
					if (target.role === "admin" && membership.role !== "owner")
						fail("FORBIDDEN", "Only the owner removes admins");
				}
				const { group } = await call(ctx, "repo.members.removeFromGroup", {
					groupId: ctx.params.id,
					userId: ctx.params.userId
				});
				return { group };
			}
		},

		leave: {
			retryPolicy: NO_RETRY,
			params: { id: idRule },
			async handler(this: GroupsThis, ctx: AuthedContext<{ id: string }>): Promise<{ group: Group }> {
				await this.access(ctx, ctx.params.id);
				const { group } = await call(ctx, "repo.members.removeFromGroup", {
					groupId: ctx.params.id,
					userId: ctx.meta.userId
				});
				return { group };
			}
		},

		/**
		 * Leaves the group if the caller is in it, and nobody can add them again until they unblock
		 * it. Anyone may block any group ID: the answer says only whether the caller left.
		 */
		block: {
			retryPolicy: NO_RETRY,
			params: { id: idRule },
			async handler(
				this: GroupsThis,
				ctx: AuthedContext<{ id: string }>
			): Promise<{ groupId: string; blocked: true; left: boolean }> {
				const { left } = await call(ctx, "repo.members.blockGroup", {
					groupId: ctx.params.id,
					userId: ctx.meta.userId
				});
				return { groupId: ctx.params.id, blocked: true, left };
			}
		},

		/** Lets the group's members add the caller again; it does not join them to it. */
		unblock: {
			retryPolicy: NO_RETRY,
			params: { id: idRule },
			async handler(
				this: GroupsThis,
				ctx: AuthedContext<{ id: string }>
			): Promise<{ groupId: string; blocked: false }> {
				await call(ctx, "repo.members.unblockGroup", { groupId: ctx.params.id, userId: ctx.meta.userId });
				return { groupId: ctx.params.id, blocked: false };
			}
		},

		/** The owner makes members admins, or admins members again. */
		setRole: {
			retryPolicy: NO_RETRY,
			params: { id: idRule, userId: idRule, role: { type: "enum", values: ["admin", "member"] } },
			async handler(
				this: GroupsThis,
				ctx: AuthedContext<{ id: string; userId: string; role: Exclude<MemberRole, "owner"> }>
			): Promise<{ member: Membership }> {
				const { membership } = await this.access(ctx, ctx.params.id);
				if (membership.role !== "owner") fail("FORBIDDEN", "Only the owner changes roles");
				if (ctx.params.userId === ctx.meta.userId) fail("FORBIDDEN", "The owner's own role cannot change");
				const member = await call(ctx, "repo.members.setRole", {
					groupId: ctx.params.id,
					userId: ctx.params.userId,
					role: ctx.params.role
				});
				return { member };
			}
		}
	}),

	methods: {
		async access(this: GroupsThis, ctx: AuthedContext, groupId: string) {
			const [group, membership] = await Promise.all([
				call(ctx, "repo.groups.get", { id: groupId }),
				call(ctx, "repo.members.get", { conversationId: groupConversationId(groupId), userId: ctx.meta.userId })
			]);
			if (!group || !membership) fail("GROUP_NOT_FOUND", GROUP_NOT_FOUND_MESSAGE);
			return { group, membership };
		},

		requireManager(this: GroupsThis, membership: Membership) {
			if (membership.role !== "owner" && membership.role !== "admin") {
				fail("FORBIDDEN", "Only the owner and admins manage members");
			}
		},

		async requireUsersExist(this: GroupsThis, ctx: Context, userIds: string[]) {
			if (userIds.length === 0) return;
			const found = new Set((await call(ctx, "repo.users.getMany", { ids: userIds })).map(u => u.id));
			const missing = userIds.filter(id => !found.has(id));
			if (missing.length > 0)
				fail("USER_NOT_FOUND", `Unknown user ID(s): ${missing.slice(0, 10).join(", ")}`, { missing });
		}
	}
};

export default GroupsService;
