import type { Context, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { literal, Op } from "sequelize";
import { Params, serviceActions } from "../../lib/contracts";
import type { ConversationWithMembership } from "../../lib/contracts/repo";
import { plain } from "../../lib/db/models";
import type { Conversation, Membership } from "../../lib/types";
import { createDbMixin, DbThis } from "../../mixins/db.mixin";

type ConversationsRepoThis = Service &
	DbThis & {
		pairWithConversations(ctx: Context, memberships: Membership[]): Promise<ConversationWithMembership[]>;
	};

/**
 * Conversations: what exists and how far each has got (last seq). Reads only here: rows are
 * made by repo.members (with their members) and advanced by the message append. Not cached: the
 * last seq changes with every message.
 */
const ConversationsRepoService: ServiceSchema<ServiceSettingSchema, ConversationsRepoThis> = {
	name: "repo.conversations",
	mixins: [createDbMixin({ model: "Conversation" })],
	dependencies: ["repo.database"],

	actions: serviceActions("repo.conversations", {
		// moleculer-db's get answers 404 for an unknown ID; the contract answers null.
		get: {
			visibility: "public",
			params: { id: "string" },
			async handler(
				this: ConversationsRepoThis,
				ctx: Context<Params<"repo.conversations.get">>
			): Promise<Conversation | null> {
				const row = await this.adapter.findById(ctx.params.id);
				return row ? plain<Conversation>(row) : null;
			}
		},

		/**
		 * A page of the user's conversations, most recent activity first: the `limit` after
		 * `before` (the last row of the previous page) in (updated_at desc, id) order. A keyset page
		 * over a subquery: not expressible as moleculer-db's find.
		 */
		listForUser: {
			visibility: "public",
			params: {
				userId: "string",
				before: { type: "object", optional: true, props: { updatedAt: "string", id: "string" } },
				limit: { type: "number", integer: true, positive: true }
			},
			async handler(
				this: ConversationsRepoThis,
				ctx: Context<Params<"repo.conversations.listForUser">>
			): Promise<ConversationWithMembership[]> {
				const { userId, before, limit } = ctx.params;
				const { Conversation: Conversations, Member } = this.db.models;
				const memberOf = literal(
					`(SELECT conversation_id FROM conversation_members WHERE user_id = ${this.db.sequelize.escape(userId)})`
				);
				const after = before && {
					[Op.or]: [
						{ updatedAt: { [Op.lt]: new Date(before.updatedAt) } },
						{ updatedAt: new Date(before.updatedAt), id: { [Op.gt]: before.id } }
					]
				};
				const rows = await Conversations.findAll({
					where: { id: { [Op.in]: memberOf }, ...after },
					order: [
						["updatedAt", "DESC"],
						["id", "ASC"]
					],
					limit
				});
				const conversations = rows.map(row => plain<Conversation>(row));
				if (conversations.length === 0) return [];
				const memberships = await Member.findAll({
					where: { userId, conversationId: { [Op.in]: conversations.map(c => c.id) } }
				});
				const byConversation = new Map(
					memberships.map(row => plain<Membership>(row)).map(m => [m.conversationId, m])
				);
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
			async handler(
				this: ConversationsRepoThis,
				ctx: Context<Params<"repo.conversations.listForUserById">>
			): Promise<ConversationWithMembership[]> {
				const { userId, afterId, limit } = ctx.params;
				const rows = await this.db.models.Member.findAll({
					where: { userId, ...(afterId !== undefined ? { conversationId: { [Op.gt]: afterId } } : {}) },
					order: [["conversationId", "ASC"]],
					limit
				});
				return this.pairWithConversations(
					ctx,
					rows.map(row => plain<Membership>(row))
				);
			}
		}
	}),

	methods: {
		/** Each membership with its conversation, in the memberships' order, with one read. */
		async pairWithConversations(
			this: ConversationsRepoThis,
			ctx: Context,
			memberships: Membership[]
		): Promise<ConversationWithMembership[]> {
			if (memberships.length === 0) return [];
			const conversations = await this._get<Conversation[]>(ctx, { id: memberships.map(m => m.conversationId) });
			const byId = new Map(conversations.map(conversation => [conversation.id, conversation]));
			return memberships.flatMap(membership => {
				const conversation = byId.get(membership.conversationId);
				return conversation ? [{ conversation, membership }] : [];
			});
		}
	}
};

export default ConversationsRepoService;
