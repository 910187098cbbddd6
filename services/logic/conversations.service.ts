import type { Context, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { call, serviceActions } from "../../lib/contracts";
import type { ReadState } from "../../lib/contracts/logic";
import type { ConversationWithMembership } from "../../lib/contracts/repo";
import { directConversationId, parseConversationId } from "../../lib/conversation-id";
import { fail } from "../../lib/errors";
import type { AuthMeta, ConversationSummary, Group, Message, User } from "../../lib/types";
import { leadingWithin } from "../../lib/page-budget";
import { activityCursor, cursorRule, parseActivityCursor } from "../../lib/page-cursor";
import { NO_RETRY } from "../../lib/resilience";
import { conversationIdRule, idRule, pageLimitRule, seqRule } from "../../lib/validation";
import { CONVERSATION_NOT_FOUND_MESSAGE, createMembershipMixin, MembershipThis } from "../../mixins/membership.mixin";
import { ConfigThis, createConfigMixin } from "../../mixins/config.mixin";

interface ConversationsMethods {
	summarize(ctx: Context, userId: string, rows: ConversationWithMembership[]): Promise<ConversationSummary[]>;
}
type ConversationsThis = Service & ConfigThis & MembershipThis & ConversationsMethods;
type AuthedContext<P = unknown> = Context<P, Required<AuthMeta> & { socketId?: string }>;

export const WORLD_TITLE = "World";
/** Conversations per page of the list, unless the client asks for fewer or more (up to LIST_MAX). */
const LIST_DEFAULT = 100;
const LIST_MAX = 500;

/** The caller's conversations: open a 1:1, list them with unread counts, mark as read. */
const ConversationsService: ServiceSchema<ServiceSettingSchema, ConversationsThis> = {
	name: "conversations",
	mixins: [createConfigMixin(), createMembershipMixin()],

	actions: serviceActions("conversations", {
		/** The same 1:1 conversation every time, whoever opens it first. */
		openDirect: {
			retryPolicy: NO_RETRY,
			params: { userId: idRule },
			async handler(
				this: ConversationsThis,
				ctx: AuthedContext<{ userId: string }>
			): Promise<{ conversation: ConversationSummary; created: boolean }> {
				const me = ctx.meta.userId;
				const peerId = ctx.params.userId;
				if (peerId === me) fail("INVALID_INPUT", "A direct conversation needs another user");
				const peer = await call(ctx, "repo.users.get", { id: peerId });
				if (!peer) fail("USER_NOT_FOUND", "No such user");
				const { conversation, created } = await call(ctx, "repo.members.ensureDirect", {
					id: directConversationId(me, peerId),
					userIds: [me, peerId]
				});
				const membership = await call(ctx, "repo.members.get", { conversationId: conversation.id, userId: me });
				if (!membership) fail("CONVERSATION_NOT_FOUND", CONVERSATION_NOT_FOUND_MESSAGE);
				const [summary] = await this.summarize(ctx, me, [{ conversation, membership }]);
				return { conversation: summary, created };
			}
		},

		/**
		 * The caller's conversations, most recent activity first, a page at a time: `limit` after
		 * `cursor`, fewer when their last messages would pass PAGE_MAX_BYTES.
		 */
		list: {
			params: { limit: pageLimitRule(LIST_MAX), cursor: cursorRule },
			async handler(
				this: ConversationsThis,
				ctx: AuthedContext<{ limit?: number; cursor?: string }>
			): Promise<{ conversations: ConversationSummary[]; nextCursor: string | null }> {
				const userId = ctx.meta.userId;
				const limit = ctx.params.limit ?? LIST_DEFAULT;
				const before = ctx.params.cursor === undefined ? undefined : parseActivityCursor(ctx.params.cursor);
				// One row more than the page says whether another page follows.
				const rows = await call(ctx, "repo.conversations.listForUser", { userId, before, limit: limit + 1 });
				const summaries = await this.summarize(ctx, userId, rows.slice(0, limit));
				const conversations = leadingWithin(summaries, this.config.pageMaxBytes);
				const last = conversations[conversations.length - 1];
				const more = rows.length > conversations.length;
				return { conversations, nextCursor: more && last ? activityCursor(last.updatedAt, last.id) : null };
			}
		},

		/**
		 * Moves the caller's read position forward (never back), up to the last message, and tells
		 * the caller's other devices.
		 */
		markRead: {
			retryPolicy: NO_RETRY,
			params: { conversationId: conversationIdRule, seq: seqRule },
			async handler(
				this: ConversationsThis,
				ctx: AuthedContext<{ conversationId: string; seq: number }>
			): Promise<ReadState> {
				const { conversationId } = ctx.params;
				await this.requireMember(ctx, conversationId);
				const [conversation, membership] = await Promise.all([
					call(ctx, "repo.conversations.get", { id: conversationId }),
					call(ctx, "repo.members.get", { conversationId, userId: ctx.meta.userId })
				]);
				if (!conversation || !membership) fail("CONVERSATION_NOT_FOUND", CONVERSATION_NOT_FOUND_MESSAGE);
				const target = Math.min(ctx.params.seq, conversation.lastSeq);
				const readSeq = await call(ctx, "repo.members.markRead", {
					conversationId: conversation.id,
					userId: ctx.meta.userId,
					seq: target
				});
				if (readSeq === null) fail("CONVERSATION_NOT_FOUND", CONVERSATION_NOT_FOUND_MESSAGE);
				if (readSeq > membership.readSeq) {
					call(ctx, "delivery.toUsers", {
						userIds: [ctx.meta.userId],
						event: "conversation:read",
						payload: { conversationId: conversation.id, seq: readSeq },
						exceptSocketId: ctx.meta.socketId
					}).catch(err => this.logger.warn(`Read sync of ${conversation.id} failed: ${err.message}`));
				}
				return {
					conversationId: conversation.id,
					readSeq,
					lastSeq: conversation.lastSeq,
					unreadCount: Math.max(0, conversation.lastSeq - readSeq)
				};
			}
		},

		/**
		 * "Someone is typing": told to the other online members, not stored. Delivery's inline
		 * rule decides who: rooms too big for it (the world, large groups) get no typing notices.
		 */
		typing: {
			retryPolicy: NO_RETRY,
			params: { conversationId: conversationIdRule },
			async handler(
				this: ConversationsThis,
				ctx: AuthedContext<{ conversationId: string }>
			): Promise<{ notified: number }> {
				const { conversationId } = ctx.params;
				const userId = ctx.meta.userId;
				await this.requireMember(ctx, conversationId);
				const { recipients } = await call(ctx, "delivery.toMembers", {
					conversationId,
					event: "typing",
					payload: { conversationId, userId },
					exceptUserId: userId
				});
				return { notified: recipients };
			}
		}
	}),

	methods: {
		/** Adds titles and last messages with one batched read per kind, not one per conversation. */
		async summarize(
			this: ConversationsThis,
			ctx: Context,
			userId: string,
			rows: ConversationWithMembership[]
		): Promise<ConversationSummary[]> {
			const peerIds = new Set<string>();
			const groupIds = new Set<string>();
			for (const { conversation } of rows) {
				const parsed = parseConversationId(conversation.id);
				if (parsed?.type === "direct")
					peerIds.add(parsed.userIds[0] === userId ? parsed.userIds[1] : parsed.userIds[0]);
				if (conversation.groupId) groupIds.add(conversation.groupId);
			}
			const lastIds = rows.map(r => r.conversation.lastMessageId).filter((id): id is string => id !== null);
			const [users, groups, messages] = await Promise.all([
				call(ctx, "repo.users.getMany", { ids: [...peerIds] }),
				call(ctx, "repo.groups.getMany", { ids: [...groupIds] }),
				call(ctx, "repo.messages.getMany", { ids: lastIds })
			]);
			const userById = new Map<string, User>(users.map(u => [u.id, u]));
			const groupById = new Map<string, Group>(groups.map(g => [g.id, g]));
			const messageById = new Map<string, Message>(messages.map(m => [m.id, m]));

			return rows.map(({ conversation, membership }) => {
				const parsed = parseConversationId(conversation.id);
				let title = WORLD_TITLE;
				if (parsed?.type === "direct") {
					const peerId = parsed.userIds[0] === userId ? parsed.userIds[1] : parsed.userIds[0];
					title = userById.get(peerId)?.displayName ?? "Unknown user";
				} else if (conversation.groupId) {
					title = groupById.get(conversation.groupId)?.name ?? "Unknown group";
				}
				return {
					id: conversation.id,
					type: conversation.type,
					title,
					lastMessage: conversation.lastMessageId
						? (messageById.get(conversation.lastMessageId) ?? null)
						: null,
					lastSeq: conversation.lastSeq,
					readSeq: membership.readSeq,
					unreadCount: Math.max(0, conversation.lastSeq - membership.readSeq),
					updatedAt: conversation.updatedAt
				};
			});
		}
	}
};

export default ConversationsService;
