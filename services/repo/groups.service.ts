import type { Context, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { Op, Transaction } from "sequelize";
import { directConversationId, groupConversationId } from "../../lib/conversation-id";
import { toGroup, toMembership } from "../../lib/db/models";
import { fail } from "../../lib/errors";
import { requireSomeoneAllowed, screenCandidates } from "../../lib/group-consent";
import type { Group, GroupAddPolicy, GroupAddRefusal, Membership, MemberRole } from "../../lib/types";
import { createDbMixin, DbThis } from "../../mixins/db.mixin";
import { createEntityReadsMixin } from "../../mixins/entity-reads.mixin";
import { forgetMembers } from "./membership-cache";

interface GroupsRepoMethods {
	lockGroup(groupId: string, transaction: Transaction): Promise<Group>;
	screen(adderId: string, groupId: string, userIds: string[], transaction: Transaction): Promise<{ allowed: string[]; refused: GroupAddRefusal[] }>;
	removeLocked(group: Group, userId: string, transaction: Transaction): Promise<{ group: Group; removed: Membership } | null>;
}

interface Removal {
	group: Group;
	removed: Membership;
}
type GroupsRepoThis = Service & DbThis & GroupsRepoMethods;

export interface CreateGroupParams {
	id: string;
	name: string;
	ownerId: string;
	memberIds: string[];
	maxMembers: number;
}

export interface AddMembersParams {
	groupId: string;
	adderId: string;
	userIds: string[];
	maxMembers: number;
}

export interface AddMembersResult {
	group: Group;
	added: string[];
	refused: GroupAddRefusal[];
}

export interface ListMembersParams {
	groupId: string;
	limit: number;
	afterUserId?: string;
}

/**
 * Groups and their conversations. Membership changes lock the group row, so member_count and
 * the capacity check stay right under concurrent adds, and a block cannot slip between an add's
 * consent check and its insert.
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
			async handler(this: GroupsRepoThis, ctx: Context<CreateGroupParams>): Promise<{ group: Group; refused: GroupAddRefusal[] }> {
				const { id, name, ownerId, maxMembers } = ctx.params;
				const { Group: Groups, Conversation, Member } = this.db.models;
				const conversationId = groupConversationId(id);
				const now = new Date();
				const { row, refused } = await this.db.transaction(async transaction => {
					const { allowed: memberIds, refused } = await this.screen(ownerId, id, ctx.params.memberIds, transaction);
					requireSomeoneAllowed(memberIds, refused);
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
					return { row: group, refused };
				});
				await forgetMembers(this.broker, conversationId);
				return { group: toGroup(row), refused };
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

		/**
		 * Adds the users who are not members yet and consent (see lib/group-consent.ts); refuses all
		 * of them if the group would overflow.
		 */
		addMembers: {
			visibility: "public",
			params: {
				groupId: "string",
				adderId: "string",
				userIds: { type: "array", items: "string" },
				maxMembers: { type: "number", integer: true, positive: true }
			},
			async handler(this: GroupsRepoThis, ctx: Context<AddMembersParams>): Promise<AddMembersResult> {
				const { groupId, adderId, userIds, maxMembers } = ctx.params;
				const { Group: Groups, Member } = this.db.models;
				const conversationId = groupConversationId(groupId);
				const result = await this.db.transaction(async transaction => {
					const group = await this.lockGroup(groupId, transaction);
					const existing = await Member.findAll({
						where: { conversation_id: conversationId, user_id: { [Op.in]: userIds } },
						transaction
					});
					const present = new Set(existing.map(row => toMembership(row).userId));
					const { allowed: added, refused } = await this.screen(adderId, groupId, userIds.filter(id => !present.has(id)), transaction);
					requireSomeoneAllowed(added, refused);
					if (group.memberCount + added.length > maxMembers) {
						fail("GROUP_FULL", `The group is full: ${group.memberCount} of ${maxMembers} members, ${added.length} more asked for`, {
							memberCount: group.memberCount, maxMembers
						});
					}
					if (added.length === 0) return { group, added, refused };
					const now = new Date();
					await Member.bulkCreate(added.map(userId => ({
						conversation_id: conversationId, user_id: userId, role: "member", read_seq: 0, joined_at: now
					})), { transaction });
					await Groups.update(
						{ member_count: group.memberCount + added.length, updated_at: now },
						{ where: { id: groupId }, transaction }
					);
					return { group: { ...group, memberCount: group.memberCount + added.length, updatedAt: now.toISOString() }, added, refused };
				});
				await forgetMembers(this.broker, groupConversationId(ctx.params.groupId));
				return result;
			}
		},

		/** Removes a member; when the owner goes, the longest-standing admin (else member) takes over. */
		removeMember: {
			visibility: "public",
			params: { groupId: "string", userId: "string" },
			async handler(this: GroupsRepoThis, ctx: Context<{ groupId: string; userId: string }>): Promise<Removal> {
				const { groupId, userId } = ctx.params;
				const result = await this.db.transaction(async transaction => {
					const removal = await this.removeLocked(await this.lockGroup(groupId, transaction), userId, transaction);
					if (!removal) fail("MEMBER_NOT_FOUND", "That user is not a member of this group");
					return removal;
				});
				await forgetMembers(this.broker, groupConversationId(groupId));
				return result;
			}
		},

		/**
		 * The user leaves the group if they are in it, and nobody can add them again. A group that does
		 * not exist is left alone: nothing is stored, and the answer is that of a group one is not in.
		 */
		block: {
			visibility: "public",
			params: { groupId: "string", userId: "string" },
			async handler(this: GroupsRepoThis, ctx: Context<{ groupId: string; userId: string }>): Promise<{ left: boolean }> {
				const { groupId, userId } = ctx.params;
				const { Group: Groups, GroupBlock } = this.db.models;
				const left = await this.db.transaction(async transaction => {
					const row = await Groups.findByPk(groupId, { transaction, lock: transaction.LOCK.UPDATE });
					if (!row) return false;
					const removal = await this.removeLocked(toGroup(row), userId, transaction);
					const where = { group_id: groupId, user_id: userId };
					if (!(await GroupBlock.findOne({ where, transaction }))) {
						await GroupBlock.create({ ...where, created_at: new Date() }, { transaction });
					}
					return removal !== null;
				});
				if (left) await forgetMembers(this.broker, groupConversationId(groupId));
				return { left };
			}
		},

		/** Lets the group's members add the user again; true if there was a block to lift. */
		unblock: {
			visibility: "public",
			params: { groupId: "string", userId: "string" },
			async handler(this: GroupsRepoThis, ctx: Context<{ groupId: string; userId: string }>): Promise<boolean> {
				const removed = await this.db.models.GroupBlock.destroy({ where: { group_id: ctx.params.groupId, user_id: ctx.params.userId } });
				return removed > 0;
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
		/** Removes a member of the locked group; when the owner goes, the longest-standing admin (else member) takes over. */
		async removeLocked(this: GroupsRepoThis, group: Group, userId: string, transaction: Transaction): Promise<Removal | null> {
			const { Group: Groups, Member } = this.db.models;
			const conversationId = group.conversationId;
			const row = await Member.findOne({ where: { conversation_id: conversationId, user_id: userId }, transaction });
			if (!row) return null;
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
			await Groups.update({ member_count: memberCount, owner_id: ownerId, updated_at: now }, { where: { id: group.id }, transaction });
			return { group: { ...group, memberCount, ownerId, updatedAt: now.toISOString() }, removed };
		},

		/**
		 * Splits the users to add into those who consent and those who refused: read in the adding
		 * transaction, after the group row is locked, so a block committed before is always seen.
		 * Users not found (deleted meanwhile) are neither.
		 */
		async screen(this: GroupsRepoThis, adderId: string, groupId: string, userIds: string[], transaction: Transaction) {
			if (userIds.length === 0) return { allowed: [], refused: [] };
			const { User, GroupBlock, Conversation } = this.db.models;
			const users = await User.findAll({ attributes: ["id", "group_add_policy"], where: { id: { [Op.in]: userIds } }, raw: true, transaction });
			const policies = new Map((users as unknown as Array<{ id: unknown; group_add_policy: GroupAddPolicy }>).map(u => [String(u.id), u.group_add_policy]));
			const blocks = await GroupBlock.findAll({ attributes: ["user_id"], where: { group_id: groupId, user_id: { [Op.in]: userIds } }, raw: true, transaction });
			const blocked = new Set((blocks as unknown as Array<{ user_id: unknown }>).map(b => String(b.user_id)));
			const askContacts = userIds.filter(id => policies.get(id) === "contacts").map(id => directConversationId(adderId, id));
			const direct = askContacts.length === 0 ? [] : await Conversation.findAll({ attributes: ["id"], where: { id: { [Op.in]: askContacts } }, raw: true, transaction });
			const contacts = new Set((direct as unknown as Array<{ id: string }>).map(c => c.id));
			return screenCandidates(userIds.filter(id => policies.has(id)).map(userId => ({
				userId,
				policy: policies.get(userId)!,
				blocked: blocked.has(userId),
				contact: contacts.has(directConversationId(adderId, userId))
			})));
		},

		async lockGroup(this: GroupsRepoThis, groupId: string, transaction: Transaction): Promise<Group> {
			const row = await this.db.models.Group.findByPk(groupId, { transaction, lock: transaction.LOCK.UPDATE });
			if (!row) fail("GROUP_NOT_FOUND", "No such group");
			return toGroup(row);
		}
	}
};

export default GroupsRepoService;
