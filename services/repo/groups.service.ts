import type { Context, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { Op, Transaction } from "sequelize";
import { groupConversationId } from "../../lib/conversation-id";
import { toGroup, toMembership } from "../../lib/db/models";
import { fail } from "../../lib/errors";
import type { Group, Membership, MemberRole } from "../../lib/types";
import { createDbMixin, DbThis } from "../../mixins/db.mixin";
import { createEntityReadsMixin } from "../../mixins/entity-reads.mixin";
import { forgetMembers } from "./membership-cache";

interface GroupsRepoMethods {
	lockGroup(groupId: string, transaction: Transaction): Promise<Group>;
}
type GroupsRepoThis = Service & DbThis & GroupsRepoMethods;

export interface CreateGroupParams {
	id: string;
	name: string;
	ownerId: string;
	memberIds: string[];
	maxMembers: number;
}

export interface ListMembersParams {
	groupId: string;
	limit: number;
	afterUserId?: string;
}

/**
 * Groups and their conversations. Membership changes lock the group row, so member_count and
 * the capacity check stay right under concurrent adds.
 */
const GroupsRepoService: ServiceSchema<ServiceSettingSchema, GroupsRepoThis> = {
	name: "repo.groups",
	mixins: [createDbMixin(), createEntityReadsMixin("Group", toGroup)],
	dependencies: ["repo.database"],

	actions: {
		create: {
			visibility: "public",
			params: {
				id: "string",
				name: "string",
				ownerId: "string",
				memberIds: { type: "array", items: "string" },
				maxMembers: { type: "number", integer: true, positive: true }
			},
			async handler(this: GroupsRepoThis, ctx: Context<CreateGroupParams>): Promise<Group> {
				const { id, name, ownerId, memberIds, maxMembers } = ctx.params;
				const { Group: Groups, Conversation, Member } = this.db.models;
				const conversationId = groupConversationId(id);
				const now = new Date();
				const row = await this.db.transaction(async transaction => {
					const group = await Groups.create({
						id, name, avatar_url: null, owner_id: ownerId, member_count: memberIds.length + 1,
						max_members: maxMembers, created_at: now, updated_at: now
					}, { transaction });
					await Conversation.create({
						id: conversationId, type: "group", group_id: id, last_seq: 0, last_message_id: null,
						created_at: now, updated_at: now
					}, { transaction });
					const members = [
						{ user_id: ownerId, role: "owner" },
						...memberIds.map(userId => ({ user_id: userId, role: "member" }))
					];
					await Member.bulkCreate(members.map(m => ({
						conversation_id: conversationId, read_seq: 0, joined_at: now, ...m
					})), { transaction });
					return group;
				});
				await forgetMembers(this.broker, conversationId);
				return toGroup(row);
			}
		},

		/** A page of members ordered by user ID; pass the last user ID seen to get the next page. */
		members: {
			visibility: "public",
			params: {
				groupId: "string",
				limit: { type: "number", integer: true, positive: true },
				afterUserId: { type: "string", optional: true }
			},
			async handler(this: GroupsRepoThis, ctx: Context<ListMembersParams>): Promise<Membership[]> {
				const { groupId, limit, afterUserId } = ctx.params;
				const rows = await this.db.models.Member.findAll({
					where: {
						conversation_id: groupConversationId(groupId),
						...(afterUserId ? { user_id: { [Op.gt]: afterUserId } } : {})
					},
					order: [["user_id", "ASC"]],
					limit
				});
				return rows.map(toMembership);
			}
		},

		/** Adds the users who are not members yet; refuses all of them if the group would overflow. */
		addMembers: {
			visibility: "public",
			params: {
				groupId: "string",
				userIds: { type: "array", items: "string" },
				maxMembers: { type: "number", integer: true, positive: true }
			},
			async handler(this: GroupsRepoThis, ctx: Context<{ groupId: string; userIds: string[]; maxMembers: number }>): Promise<{ group: Group; added: string[] }> {
				const { groupId, userIds, maxMembers } = ctx.params;
				const { Group: Groups, Member } = this.db.models;
				const conversationId = groupConversationId(groupId);
				const result = await this.db.transaction(async transaction => {
					const group = await this.lockGroup(groupId, transaction);
					const existing = await Member.findAll({
						where: { conversation_id: conversationId, user_id: { [Op.in]: userIds } },
						transaction
					});
					const present = new Set(existing.map(row => toMembership(row).userId));
					const added = userIds.filter(id => !present.has(id));
					if (group.memberCount + added.length > maxMembers) {
						fail("GROUP_FULL", `The group is full: ${group.memberCount} of ${maxMembers} members, ${added.length} more asked for`, {
							memberCount: group.memberCount, maxMembers
						});
					}
					if (added.length === 0) return { group, added };
					const now = new Date();
					await Member.bulkCreate(added.map(userId => ({
						conversation_id: conversationId, user_id: userId, role: "member", read_seq: 0, joined_at: now
					})), { transaction });
					await Groups.update(
						{ member_count: group.memberCount + added.length, updated_at: now },
						{ where: { id: groupId }, transaction }
					);
					return { group: { ...group, memberCount: group.memberCount + added.length, updatedAt: now.toISOString() }, added };
				});
				await forgetMembers(this.broker, groupConversationId(ctx.params.groupId));
				return result;
			}
		},

		/** Removes a member; when the owner goes, the longest-standing admin (else member) takes over. */
		removeMember: {
			visibility: "public",
			params: { groupId: "string", userId: "string" },
			async handler(this: GroupsRepoThis, ctx: Context<{ groupId: string; userId: string }>): Promise<{ group: Group; removed: Membership }> {
				const { groupId, userId } = ctx.params;
				const { Group: Groups, Member } = this.db.models;
				const conversationId = groupConversationId(groupId);
				const result = await this.db.transaction(async transaction => {
					const group = await this.lockGroup(groupId, transaction);
					const row = await Member.findOne({ where: { conversation_id: conversationId, user_id: userId }, transaction });
					if (!row) fail("MEMBER_NOT_FOUND", "That user is not a member of this group");
					const removed = toMembership(row);
					await Member.destroy({ where: { conversation_id: conversationId, user_id: userId }, transaction });

					let ownerId = group.ownerId;
					if (removed.role === "owner") {
						const successor = await Member.findOne({
							where: { conversation_id: conversationId },
							// "admin" sorts before "member": admins first, then by seniority.
							order: [["role", "ASC"], ["joined_at", "ASC"], ["user_id", "ASC"]],
							transaction
						});
						if (successor) {
							ownerId = toMembership(successor).userId;
							await Member.update({ role: "owner" }, { where: { conversation_id: conversationId, user_id: ownerId }, transaction });
						}
					}
					const now = new Date();
					const memberCount = group.memberCount - 1;
					await Groups.update({ member_count: memberCount, owner_id: ownerId, updated_at: now }, { where: { id: groupId }, transaction });
					return { group: { ...group, memberCount, ownerId, updatedAt: now.toISOString() }, removed };
				});
				await forgetMembers(this.broker, groupConversationId(ctx.params.groupId));
				return result;
			}
		},

		/** Makes a member admin or member again; never touches the owner's row, so a group keeps its one owner. */
		setRole: {
			visibility: "public",
			params: { groupId: "string", userId: "string", role: { type: "enum", values: ["admin", "member"] } },
			async handler(this: GroupsRepoThis, ctx: Context<{ groupId: string; userId: string; role: MemberRole }>): Promise<Membership> {
				const where = { conversation_id: groupConversationId(ctx.params.groupId), user_id: ctx.params.userId };
				const { Member } = this.db.models;
				const result = await this.db.transaction(async transaction => {
					await this.lockGroup(ctx.params.groupId, transaction);
					const row = await Member.findOne({ where, transaction });
					if (!row) fail("MEMBER_NOT_FOUND", "That user is not a member of this group");
					const member = toMembership(row);
					if (member.role === "owner") fail("FORBIDDEN", "The owner's role cannot change");
					await Member.update({ role: ctx.params.role }, { where, transaction });
					return { ...member, role: ctx.params.role };
				});
				await forgetMembers(this.broker, groupConversationId(ctx.params.groupId));
				return result;
			}
		}
	},

	methods: {
		async lockGroup(this: GroupsRepoThis, groupId: string, transaction: Transaction): Promise<Group> {
			const row = await this.db.models.Group.findByPk(groupId, { transaction, lock: transaction.LOCK.UPDATE });
			if (!row) fail("GROUP_NOT_FOUND", "No such group");
			return toGroup(row);
		}
	}
};

export default GroupsRepoService;
