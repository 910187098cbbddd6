import type { Context, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { literal, Op } from "sequelize";
import { parseConversationId } from "../../lib/conversation-id";
import { isUniqueViolation } from "../../lib/db/database";
import { toConversation, toMembership } from "../../lib/db/models";
import type { Conversation, Membership, MemberRole } from "../../lib/types";
import { createDbMixin, DbThis } from "../../mixins/db.mixin";
import { createEntityReadsMixin } from "../../mixins/entity-reads.mixin";
import { forgetMembers, MEMBERS_CHANGED_EVENT, rolePattern } from "./membership-cache";

type ConversationsRepoThis = Service & DbThis & {
	pairWithConversations(memberships: Membership[]): Promise<ConversationWithMembership[]>;
};

export interface ConversationWithMembership {
	conversation: Conversation;
	membership: Membership;
}

export interface ListForUserParams {
	userId: string;
	/** Where the previous page ended: its last conversation's updatedAt and id. */
	before?: { updatedAt: string; id: string };
	limit: number;
}

/** Conversations and their members: who is in what, and how far each member has read. */
const ConversationsRepoService: ServiceSchema<ServiceSettingSchema, ConversationsRepoThis> = {
	name: "repo.conversations",
	mixins: [createDbMixin(), createEntityReadsMixin("Conversation", toConversation)],
	dependencies: ["repo.database"],

	actions: {
		/** Creates the 1:1 conversation with both members, or returns it if it exists. */
		ensureDirect: {
			visibility: "public",
			params: { id: "string", userIds: { type: "array", items: "string", length: 2 } },
			async handler(this: ConversationsRepoThis, ctx: Context<{ id: string; userIds: string[] }>): Promise<{ conversation: Conversation; created: boolean }> {
				const { Conversation: Conversations, Member } = this.db.models;
				const existing = await Conversations.findByPk(ctx.params.id);
				if (existing) return { conversation: toConversation(existing), created: false };
				const now = new Date();
				try {
					const row = await this.db.transaction(async transaction => {
						const created = await Conversations.create({
							id: ctx.params.id, type: "direct", group_id: null, last_seq: 0, last_message_id: null,
							created_at: now, updated_at: now
						}, { transaction });
						await Member.bulkCreate(ctx.params.userIds.map(userId => ({
							conversation_id: ctx.params.id, user_id: userId, role: "member", read_seq: 0, joined_at: now
						})), { transaction });
						return created;
					});
					await forgetMembers(this.broker, ctx.params.id);
					return { conversation: toConversation(row), created: true };
				} catch (err) {
					// Both users opened it at the same moment: the other request created it.
					if (!isUniqueViolation(err)) throw err;
					const row = await Conversations.findByPk(ctx.params.id);
					if (!row) throw err;
					return { conversation: toConversation(row), created: false };
				}
			}
		},

		/** The member's role, or null: the access check of every send, so it is cached until members change. */
		role: {
			visibility: "public",
			cache: { keys: ["conversationId", "userId"], ttl: 600 },
			params: { conversationId: "string", userId: "string" },
			async handler(this: ConversationsRepoThis, ctx: Context<{ conversationId: string; userId: string }>): Promise<MemberRole | null> {
				const row = await this.db.models.Member.findOne({
					attributes: ["role"],
					where: { conversation_id: ctx.params.conversationId, user_id: ctx.params.userId }
				});
				return row ? (row.get("role") as MemberRole) : null;
			}
		},

		membership: {
			visibility: "public",
			params: { conversationId: "string", userId: "string" },
			async handler(this: ConversationsRepoThis, ctx: Context<{ conversationId: string; userId: string }>): Promise<Membership | null> {
				const row = await this.db.models.Member.findOne({
					where: { conversation_id: ctx.params.conversationId, user_id: ctx.params.userId }
				});
				return row ? toMembership(row) : null;
			}
		},

		/** A page of member IDs in user ID order; pass the last one seen to get the next page. */
		memberIds: {
			visibility: "public",
			params: {
				conversationId: "string",
				afterUserId: { type: "string", optional: true },
				limit: { type: "number", integer: true, positive: true }
			},
			async handler(this: ConversationsRepoThis, ctx: Context<{ conversationId: string; afterUserId?: string; limit: number }>): Promise<string[]> {
				const { conversationId, afterUserId, limit } = ctx.params;
				const rows = await this.db.models.Member.findAll({
					attributes: ["user_id"],
					where: { conversation_id: conversationId, ...(afterUserId ? { user_id: { [Op.gt]: afterUserId } } : {}) },
					order: [["user_id", "ASC"]],
					limit,
					raw: true
				});
				return rows.map(row => String((row as unknown as { user_id: unknown }).user_id));
			}
		},

		/** The users this user has a 1:1 conversation with (the audience of their presence). */
		directPeers: {
			visibility: "public",
			params: { userId: "string" },
			async handler(this: ConversationsRepoThis, ctx: Context<{ userId: string }>): Promise<string[]> {
				const rows = await this.db.models.Member.findAll({
					attributes: ["conversation_id"],
					// "single_" IDs sort in ["single_", "single`"): "`" follows "_" in byte order.
					where: { user_id: ctx.params.userId, conversation_id: { [Op.gte]: "single_", [Op.lt]: "single`" } },
					raw: true
				});
				const peers = new Set<string>();
				for (const row of rows as unknown as Array<{ conversation_id: string }>) {
					const parsed = parseConversationId(row.conversation_id);
					if (parsed?.type === "direct") for (const id of parsed.userIds) if (id !== ctx.params.userId) peers.add(id);
				}
				return [...peers];
			}
		},

		/**
		 * A page of the user's conversations, most recent activity first: the `limit` after
		 * `before` (the last row of the previous page) in (updated_at desc, id) order.
		 */
		listForUser: {
			visibility: "public",
			params: {
				userId: "string",
				before: { type: "object", optional: true, props: { updatedAt: "string", id: "string" } },
				limit: { type: "number", integer: true, positive: true }
			},
			async handler(this: ConversationsRepoThis, ctx: Context<ListForUserParams>): Promise<ConversationWithMembership[]> {
				const { userId, before, limit } = ctx.params;
				const memberOf = literal(`(SELECT conversation_id FROM conversation_members WHERE user_id = ${this.db.sequelize.escape(userId)})`);
				const after = before && {
					[Op.or]: [
						{ updated_at: { [Op.lt]: new Date(before.updatedAt) } },
						{ updated_at: new Date(before.updatedAt), id: { [Op.gt]: before.id } }
					]
				};
				const rows = await this.db.models.Conversation.findAll({
					where: { id: { [Op.in]: memberOf }, ...after },
					order: [["updated_at", "DESC"], ["id", "ASC"]],
					limit
				});
				const conversations = rows.map(toConversation);
				if (conversations.length === 0) return [];
				const memberships = (await this.db.models.Member.findAll({
					where: { user_id: userId, conversation_id: { [Op.in]: conversations.map(c => c.id) } }
				})).map(toMembership);
				const byConversation = new Map(memberships.map(m => [m.conversationId, m]));
				// A conversation left between the two reads drops out of the page.
				return conversations.flatMap(conversation => {
					const membership = byConversation.get(conversation.id);
					return membership ? [{ conversation, membership }] : [];
				});
			}
		},

		/** A page of the user's conversations in ID order: the `limit` whose IDs follow `afterId`. */
		listForUserById: {
			visibility: "public",
			params: {
				userId: "string",
				afterId: { type: "string", optional: true },
				limit: { type: "number", integer: true, positive: true }
			},
			async handler(this: ConversationsRepoThis, ctx: Context<{ userId: string; afterId?: string; limit: number }>): Promise<ConversationWithMembership[]> {
				const { userId, afterId, limit } = ctx.params;
				const memberships = (await this.db.models.Member.findAll({
					where: { user_id: userId, ...(afterId !== undefined ? { conversation_id: { [Op.gt]: afterId } } : {}) },
					order: [["conversation_id", "ASC"]],
					limit
				})).map(toMembership);
				return this.pairWithConversations(memberships);
			}
		},

		/** Moves the read position forward only; returns where it stands afterwards. */
		markRead: {
			visibility: "public",
			params: { conversationId: "string", userId: "string", seq: { type: "number", integer: true, min: 0 } },
			async handler(this: ConversationsRepoThis, ctx: Context<{ conversationId: string; userId: string; seq: number }>): Promise<number | null> {
				const where = { conversation_id: ctx.params.conversationId, user_id: ctx.params.userId };
				await this.db.models.Member.update(
					{ read_seq: ctx.params.seq },
					{ where: { ...where, read_seq: { [Op.lt]: ctx.params.seq } } }
				);
				const row = await this.db.models.Member.findOne({ where });
				return row ? toMembership(row).readSeq : null;
			}
		}
	},

	methods: {
		/** Each membership with its conversation, in the memberships' order, with one read. */
		async pairWithConversations(this: ConversationsRepoThis, memberships: Membership[]): Promise<ConversationWithMembership[]> {
			if (memberships.length === 0) return [];
			const rows = await this.db.models.Conversation.findAll({ where: { id: { [Op.in]: memberships.map(m => m.conversationId) } } });
			const byId = new Map(rows.map(row => [String(row.get("id")), toConversation(row)]));
			return memberships.flatMap(membership => {
				const conversation = byId.get(membership.conversationId);
				return conversation ? [{ conversation, membership }] : [];
			});
		}
	},

	events: {
		[MEMBERS_CHANGED_EVENT]: {
			params: { conversationId: "string" },
			async handler(this: ConversationsRepoThis, ctx: Context<{ conversationId: string }>) {
				await this.broker.cacher?.clean(rolePattern(ctx.params.conversationId));
			}
		}
	}
};

export default ConversationsRepoService;
