import type { Context, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { Op, Transaction } from "sequelize";
import { Params, serviceActions } from "../../lib/contracts";
import { MEMBERS_CHANGED_EVENT } from "../../lib/contracts/events";
import type { AddMembersResult } from "../../lib/contracts/repo";
import {
	directConversationId,
	groupConversationId,
	parseConversationId,
	WORLD_CONVERSATION_ID
} from "../../lib/conversation-id";
import { isUniqueViolation } from "../../lib/db/database";
import { fromRaw, GROUP_FIELDS, pick, plain } from "../../lib/db/models";
import { fail } from "../../lib/errors";
import { requireSomeoneAllowed, screenCandidates } from "../../lib/group-consent";
import { NO_RETRY, WRITE_TIMEOUT_MS } from "../../lib/resilience";
import type { Conversation, Group, GroupAddPolicy, GroupAddRefusal, Membership, MemberRole } from "../../lib/types";
import { cacheCleanEvent, createCacheCleanerMixin } from "../../mixins/cache-cleaner.mixin";
import { createDbMixin, DbThis } from "../../mixins/db.mixin";

interface Removal {
	group: Group;
	removed: Membership;
}

interface MembersRepoMethods {
	announce(ctx: Context, conversationId: string, change?: { userId?: string; groupId?: string }): Promise<void>;
	lockGroup(groupId: string, transaction: Transaction): Promise<Group>;
	screen(
		adderId: string,
		groupId: string,
		userIds: string[],
		transaction: Transaction
	): Promise<{ allowed: string[]; refused: GroupAddRefusal[] }>;
	removeLocked(group: Group, userId: string, transaction: Transaction): Promise<Removal | null>;
}

type MembersRepoThis = Service & DbThis & MembersRepoMethods;

/** Roles are checked on every send; a membership change cleans them at once (members.changed). */
const ROLE_TTL_SECONDS = 600;

const groupOf = (row: Parameters<typeof pick>[0]) => pick<Group>(row, GROUP_FIELDS);

/**
 * The one writer of conversation_members and group_blocks: who is in what, as what, and how far
 * each member has read. Group changes lock the group row, so member_count and the capacity check
 * stay right under concurrent adds, and a block cannot slip between an add's consent check and
 * its insert; the group row's member_count and owner_id change inside those same transactions.
 * (The one other write: the message append moves the sender's read_seq in its own transaction,
 * see lib/db/message-writer.ts.) Every change broadcasts members.changed once committed.
 */
const MembersRepoService: ServiceSchema<ServiceSettingSchema, MembersRepoThis> = {
	name: "repo.members",
	mixins: [
		createDbMixin({ model: "Member" }),
		createCacheCleanerMixin({ [MEMBERS_CHANGED_EVENT]: ["repo.members.role"] })
	],
	dependencies: ["repo.database"],

	actions: serviceActions("repo.members", {
		/** The member's role, or null: the access check of every send, so it is cached until members change. */
		role: {
			visibility: "public",
			cache: { keys: ["conversationId", "userId"], ttl: ROLE_TTL_SECONDS },
			params: { conversationId: "string", userId: "string" },
			async handler(
				this: MembersRepoThis,
				ctx: Context<Params<"repo.members.role">>
			): Promise<MemberRole | null> {
				const row = await this.db.models.Member.findOne({ attributes: ["role"], where: ctx.params, raw: true });
				return row ? (row as unknown as { role: MemberRole }).role : null;
			}
		},

		// A composite key: moleculer-db's get knows one ID field.
		get: {
			visibility: "public",
			params: { conversationId: "string", userId: "string" },
			async handler(this: MembersRepoThis, ctx: Context<Params<"repo.members.get">>): Promise<Membership | null> {
				const row = await this.adapter.findOne({
					where: { conversationId: ctx.params.conversationId, userId: ctx.params.userId }
				});
				return row ? plain<Membership>(row) : null;
			}
		},

		/** A page of a conversation's members in user ID order (a keyset page: not moleculer-db's offset list). */
		list: {
			visibility: "public",
			params: {
				conversationId: "string",
				limit: { type: "number", integer: true, positive: true },
				afterUserId: { type: "string", optional: true }
			},
			async handler(this: MembersRepoThis, ctx: Context<Params<"repo.members.list">>): Promise<Membership[]> {
				const { conversationId, limit, afterUserId } = ctx.params;
				const { Member } = this.db.models;
				// Fan-out pages through long member lists: raw rows, as model instances cost 4x the query.
				const rows = await Member.findAll({
					where: { conversationId, ...(afterUserId ? { userId: { [Op.gt]: afterUserId } } : {}) },
					order: [["userId", "ASC"]],
					limit,
					raw: true
				});
				return rows.map(row => fromRaw<Membership>(Member, row));
			}
		},

		/** The users this user has a 1:1 conversation with (the audience of their presence). */
		directPeers: {
			visibility: "public",
			params: { userId: "string", among: { type: "array", items: "string", max: 100, optional: true } },
			async handler(this: MembersRepoThis, ctx: Context<Params<"repo.members.directPeers">>): Promise<string[]> {
				const { userId, among } = ctx.params;
				const rows = await this.db.models.Member.findAll({
					attributes: ["conversationId"],
					where: {
						userId,
						// "single_" IDs sort in ["single_", "single`"): "`" follows "_" in byte order.
						conversationId: among
							? {
									[Op.in]: among
										.filter(peer => peer !== userId)
										.map(peer => directConversationId(userId, peer))
								}
							: { [Op.gte]: "single_", [Op.lt]: "single`" }
					},
					raw: true
				});
				const peers = new Set<string>();
				for (const row of rows as unknown as Array<{ conversationId: string }>) {
					const parsed = parseConversationId(row.conversationId);
					if (parsed?.type === "direct")
						for (const id of parsed.userIds) if (id !== ctx.params.userId) peers.add(id);
				}
				return [...peers];
			}
		},

		/** Moves the read position forward only; returns where it stands afterwards (null: not a member). */
		markRead: {
			visibility: "public",
			retryPolicy: NO_RETRY,
			params: { conversationId: "string", userId: "string", seq: { type: "number", integer: true, min: 0 } },
			async handler(
				this: MembersRepoThis,
				ctx: Context<Params<"repo.members.markRead">>
			): Promise<number | null> {
				const { conversationId, userId, seq } = ctx.params;
				await this.adapter.updateMany({ conversationId, userId, readSeq: { [Op.lt]: seq } }, { readSeq: seq });
				const row = await this.adapter.findOne({ where: { conversationId, userId } });
				return row ? plain<Membership>(row).readSeq : null;
			}
		},

		/** Everyone is in the world room: called after sign-up and at every login, so one key lookup when already in. */
		joinWorld: {
			visibility: "public",
			retryPolicy: NO_RETRY,
			params: { userId: "string" },
			async handler(this: MembersRepoThis, ctx: Context<Params<"repo.members.joinWorld">>): Promise<boolean> {
				const { Member } = this.db.models;
				const membership = { conversationId: WORLD_CONVERSATION_ID, userId: ctx.params.userId };
				if (await Member.findOne({ attributes: ["role"], where: membership, raw: true })) return false;
				try {
					await Member.create({ ...membership, role: "member", readSeq: 0, joinedAt: new Date() });
				} catch (err) {
					// Two logins at once: the other one inserted it.
					if (isUniqueViolation(err)) return false;
					throw err;
				}
				await this.announce(ctx, WORLD_CONVERSATION_ID, { userId: ctx.params.userId });
				return true;
			}
		},

		/** Takes these users out of the world room (task.maintenance, before it deletes idle guests). */
		leaveWorld: {
			visibility: "public",
			retryPolicy: NO_RETRY,
			timeout: WRITE_TIMEOUT_MS,
			params: { userIds: { type: "array", items: "string" } },
			async handler(this: MembersRepoThis, ctx: Context<Params<"repo.members.leaveWorld">>): Promise<number> {
				if (ctx.params.userIds.length === 0) return 0;
				const left = await this.adapter.removeMany({
					conversationId: WORLD_CONVERSATION_ID,
					userId: { [Op.in]: ctx.params.userIds }
				});
				if (left > 0) await this.announce(ctx, WORLD_CONVERSATION_ID);
				return left;
			}
		},

		/** Creates the 1:1 conversation with both members in one transaction, or returns it if it exists. */
		ensureDirect: {
			visibility: "public",
			retryPolicy: NO_RETRY,
			params: { id: "string", userIds: { type: "array", items: "string", length: 2 } },
			async handler(
				this: MembersRepoThis,
				ctx: Context<Params<"repo.members.ensureDirect">>
			): Promise<{ conversation: Conversation; created: boolean }> {
				const { id, userIds } = ctx.params;
				const { Conversation: Conversations, Member } = this.db.models;
				const existing = await Conversations.findByPk(id);
				if (existing) return { conversation: plain<Conversation>(existing), created: false };
				const now = new Date();
				try {
					const row = await this.db.transaction(async transaction => {
						const created = await Conversations.create(
							{
								id,
								type: "direct",
								groupId: null,
								lastSeq: 0,
								lastMessageId: null,
								createdAt: now,
								updatedAt: now
							},
							{ transaction }
						);
						await Member.bulkCreate(
							userIds.map(userId => ({
								conversationId: id,
								userId,
								role: "member",
								readSeq: 0,
								joinedAt: now
							})),
							{ transaction }
						);
						return created;
					});
					await this.announce(ctx, id);
					return { conversation: plain<Conversation>(row), created: true };
				} catch (err) {
					// Both users opened it at the same moment: the other request created it.
					if (!isUniqueViolation(err)) throw err;
					const row = await Conversations.findByPk(id);
					if (!row) throw err;
					return { conversation: plain<Conversation>(row), created: false };
				}
			}
		},

		/** The group row, its conversation and its members (owner first) in one transaction. */
		createGroup: {
			visibility: "public",
			retryPolicy: NO_RETRY,
			timeout: WRITE_TIMEOUT_MS,
			params: {
				id: "string",
				name: "string",
				ownerId: "string",
				memberIds: { type: "array", items: "string" },
				maxMembers: { type: "number", integer: true, positive: true }
			},
			async handler(
				this: MembersRepoThis,
				ctx: Context<Params<"repo.members.createGroup">>
			): Promise<{ group: Group; refused: GroupAddRefusal[] }> {
				const { id, name, ownerId, maxMembers } = ctx.params;
				const { Group: Groups, Conversation, Member } = this.db.models;
				const conversationId = groupConversationId(id);
				const now = new Date();
				const result = await this.db.transaction(async transaction => {
					const { allowed: memberIds, refused } = await this.screen(
						ownerId,
						id,
						ctx.params.memberIds,
						transaction
					);
					requireSomeoneAllowed(memberIds, refused);
					const group = await Groups.create(
						{
							id,
							name,
							avatarUrl: null,
							ownerId,
							memberCount: memberIds.length + 1,
							maxMembers,
							createdAt: now,
							updatedAt: now
						},
						{ transaction }
					);
					await Conversation.create(
						{
							id: conversationId,
							type: "group",
							groupId: id,
							lastSeq: 0,
							lastMessageId: null,
							createdAt: now,
							updatedAt: now
						},
						{ transaction }
					);
					const members = [
						{ userId: ownerId, role: "owner" },
						...memberIds.map(userId => ({ userId, role: "member" }))
					];
					await Member.bulkCreate(
						members.map(m => ({ conversationId, readSeq: 0, joinedAt: now, ...m })),
						{ transaction }
					);
					return { group: groupOf(group), refused };
				});
				await this.announce(ctx, conversationId, { groupId: id });
				return result;
			}
		},

		/**
		 * Adds the users who are not members yet and consent (see lib/group-consent.ts); refuses all
		 * of them if the group would overflow.
		 */
		addToGroup: {
			visibility: "public",
			retryPolicy: NO_RETRY,
			timeout: WRITE_TIMEOUT_MS,
			params: {
				groupId: "string",
				adderId: "string",
				userIds: { type: "array", items: "string" },
				maxMembers: { type: "number", integer: true, positive: true }
			},
			async handler(
				this: MembersRepoThis,
				ctx: Context<Params<"repo.members.addToGroup">>
			): Promise<AddMembersResult> {
				const { groupId, adderId, userIds, maxMembers } = ctx.params;
				const { Group: Groups, Member } = this.db.models;
				const conversationId = groupConversationId(groupId);
				const result = await this.db.transaction(async transaction => {
					const group = await this.lockGroup(groupId, transaction);
					const existing = await Member.findAll({
						attributes: ["userId"],
						where: { conversationId, userId: { [Op.in]: userIds } },
						raw: true,
						transaction
					});
					const present = new Set(
						(existing as unknown as Array<{ userId: unknown }>).map(row => String(row.userId))
					);
					const { allowed: added, refused } = await this.screen(
						adderId,
						groupId,
						userIds.filter(id => !present.has(id)),
						transaction
					);
					requireSomeoneAllowed(added, refused);
					if (group.memberCount + added.length > maxMembers) {
						fail(
							"GROUP_FULL",
							`The group is full: ${group.memberCount} of ${maxMembers} members, ${added.length} more asked for`,
							{
								memberCount: group.memberCount,
								maxMembers
							}
						);
					}
					if (added.length === 0) return { group, added, refused };
					const now = new Date();
					await Member.bulkCreate(
						added.map(userId => ({
							conversationId,
							userId,
							role: "member",
							readSeq: 0,
							joinedAt: now
						})),
						{ transaction }
					);
					const memberCount = group.memberCount + added.length;
					await Groups.update({ memberCount, updatedAt: now }, { where: { id: groupId }, transaction });
					return { group: { ...group, memberCount, updatedAt: now.toISOString() }, added, refused };
				});
				if (result.added.length > 0) await this.announce(ctx, conversationId, { groupId });
				return result;
			}
		},

		/** Removes a member; when the owner goes, the longest-standing admin (else member) takes over. */
		removeFromGroup: {
			visibility: "public",
			retryPolicy: NO_RETRY,
			timeout: WRITE_TIMEOUT_MS,
			params: { groupId: "string", userId: "string" },
			async handler(
				this: MembersRepoThis,
				ctx: Context<Params<"repo.members.removeFromGroup">>
			): Promise<Removal> {
				const { groupId, userId } = ctx.params;
				const result = await this.db.transaction(async transaction => {
					const removal = await this.removeLocked(
						await this.lockGroup(groupId, transaction),
						userId,
						transaction
					);
					if (!removal) fail("MEMBER_NOT_FOUND", "That user is not a member of this group");
					return removal;
				});
				await this.announce(ctx, groupConversationId(groupId), { groupId });
				return result;
			}
		},

		/** Makes a member admin or member again; never touches the owner's row, so a group keeps its one owner. */
		setRole: {
			visibility: "public",
			retryPolicy: NO_RETRY,
			timeout: WRITE_TIMEOUT_MS,
			params: { groupId: "string", userId: "string", role: { type: "enum", values: ["admin", "member"] } },
			async handler(this: MembersRepoThis, ctx: Context<Params<"repo.members.setRole">>): Promise<Membership> {
				const { groupId, userId, role } = ctx.params;
				const where = { conversationId: groupConversationId(groupId), userId };
				const { Member } = this.db.models;
				const result = await this.db.transaction(async transaction => {
					await this.lockGroup(groupId, transaction);
					const row = await Member.findOne({ where, transaction });
					if (!row) fail("MEMBER_NOT_FOUND", "That user is not a member of this group");
					const member = plain<Membership>(row);
					if (member.role === "owner") fail("FORBIDDEN", "The owner's role cannot change");
					await Member.update({ role }, { where, transaction });
					return { ...member, role };
				});
				await this.announce(ctx, where.conversationId, { userId });
				return result;
			}
		},

		/**
		 * The user leaves the group if they are in it, and nobody can add them again. A group that does
		 * not exist is left alone: nothing is stored, and the answer is that of a group one is not in.
		 */
		blockGroup: {
			visibility: "public",
			retryPolicy: NO_RETRY,
			timeout: WRITE_TIMEOUT_MS,
			params: { groupId: "string", userId: "string" },
			async handler(
				this: MembersRepoThis,
				ctx: Context<Params<"repo.members.blockGroup">>
			): Promise<{ left: boolean }> {
				const { groupId, userId } = ctx.params;
				const { Group: Groups, GroupBlock } = this.db.models;
				const left = await this.db.transaction(async transaction => {
					const row = await Groups.findByPk(groupId, { transaction, lock: transaction.LOCK.UPDATE });
					if (!row) return false;
					const removal = await this.removeLocked(groupOf(row), userId, transaction);
					const block = { groupId, userId };
					if (!(await GroupBlock.findOne({ where: block, transaction }))) {
						await GroupBlock.create({ ...block, createdAt: new Date() }, { transaction });
					}
					return removal !== null;
				});
				if (left) await this.announce(ctx, groupConversationId(groupId), { groupId });
				return { left };
			}
		},

		/** Lets the group's members add the user again; true if there was a block to lift. */
		unblockGroup: {
			visibility: "public",
			retryPolicy: NO_RETRY,
			params: { groupId: "string", userId: "string" },
			async handler(this: MembersRepoThis, ctx: Context<Params<"repo.members.unblockGroup">>): Promise<boolean> {
				const removed = await this.db.models.GroupBlock.destroy({
					where: { groupId: ctx.params.groupId, userId: ctx.params.userId }
				});
				return removed > 0;
			}
		}
	}),

	methods: {
		/**
		 * Tells every node a conversation's members changed (logic forgets what it remembered, the
		 * cleaner drops cached roles: only the user's when one member changed alone), and, when a group
		 * row changed with them, that the cached group is stale.
		 */
		async announce(
			this: MembersRepoThis,
			ctx: Context,
			conversationId: string,
			change: { userId?: string; groupId?: string } = {}
		) {
			await ctx.broadcast(
				MEMBERS_CHANGED_EVENT,
				change.userId ? { conversationId, userId: change.userId } : { conversationId }
			);
			if (change.groupId) await ctx.broadcast(cacheCleanEvent("repo.groups"), { id: change.groupId });
		},

		/** Removes a member of the locked group; when the owner goes, the longest-standing admin (else member) takes over. */
		async removeLocked(
			this: MembersRepoThis,
			group: Group,
			userId: string,
			transaction: Transaction
		): Promise<Removal | null> {
			const { Group: Groups, Member } = this.db.models;
			const conversationId = group.conversationId;
			const row = await Member.findOne({ where: { conversationId, userId }, transaction });
			if (!row) return null;
			const removed = plain<Membership>(row);
			await Member.destroy({ where: { conversationId, userId }, transaction });

			let ownerId = group.ownerId;
			if (removed.role === "owner") {
				const successor = await Member.findOne({
					where: { conversationId },
					// "admin" sorts before "member": admins first, then by seniority.
					order: [
						["role", "ASC"],
						["joinedAt", "ASC"],
						["userId", "ASC"]
					],
					transaction
				});
				if (successor) {
					ownerId = plain<Membership>(successor).userId;
					await Member.update({ role: "owner" }, { where: { conversationId, userId: ownerId }, transaction });
				}
			}
			const now = new Date();
			const memberCount = group.memberCount - 1;
			await Groups.update({ memberCount, ownerId, updatedAt: now }, { where: { id: group.id }, transaction });
			return { group: { ...group, memberCount, ownerId, updatedAt: now.toISOString() }, removed };
		},

		/**
		 * Splits the users to add into those who consent and those who refused: read in the adding
		 * transaction, after the group row is locked, so a block committed before is always seen.
		 * Users not found (deleted meanwhile) are neither.
		 */
		async screen(
			this: MembersRepoThis,
			adderId: string,
			groupId: string,
			userIds: string[],
			transaction: Transaction
		) {
			if (userIds.length === 0) return { allowed: [], refused: [] };
			const { User, GroupBlock, Conversation } = this.db.models;
			const users = await User.findAll({
				attributes: ["id", "groupAddPolicy"],
				where: { id: { [Op.in]: userIds } },
				raw: true,
				transaction
			});
			const policies = new Map(
				(users as unknown as Array<{ id: unknown; groupAddPolicy: GroupAddPolicy }>).map(u => [
					String(u.id),
					u.groupAddPolicy
				])
			);
			const blocks = await GroupBlock.findAll({
				attributes: ["userId"],
				where: { groupId, userId: { [Op.in]: userIds } },
				raw: true,
				transaction
			});
			const blocked = new Set((blocks as unknown as Array<{ userId: unknown }>).map(b => String(b.userId)));
			const askContacts = userIds
				.filter(id => policies.get(id) === "contacts")
				.map(id => directConversationId(adderId, id));
			const direct =
				askContacts.length === 0
					? []
					: await Conversation.findAll({
							attributes: ["id"],
							where: { id: { [Op.in]: askContacts } },
							raw: true,
							transaction
						});
			const contacts = new Set((direct as unknown as Array<{ id: string }>).map(c => c.id));
			return screenCandidates(
				userIds
					.filter(id => policies.has(id))
					.map(userId => ({
						userId,
						policy: policies.get(userId)!,
						blocked: blocked.has(userId),
						contact: contacts.has(directConversationId(adderId, userId))
					}))
			);
		},

		async lockGroup(this: MembersRepoThis, groupId: string, transaction: Transaction): Promise<Group> {
			const row = await this.db.models.Group.findByPk(groupId, { transaction, lock: transaction.LOCK.UPDATE });
			if (!row) fail("GROUP_NOT_FOUND", "No such group");
			return groupOf(row);
		}
	}
};

export default MembersRepoService;
