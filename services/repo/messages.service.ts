import type { Context, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { Op, WhereOptions } from "sequelize";
import { isUniqueViolation } from "../../lib/db/database";
import { toMessage } from "../../lib/db/models";
import { getConfig } from "../../lib/config";
import { HotMessageCache } from "../../lib/state/hot-message-cache";
import { SequenceStore } from "../../lib/state/sequence-store";
import type { Message } from "../../lib/types";
import { createDbMixin, DbThis } from "../../mixins/db.mixin";
import { createEntityReadsMixin } from "../../mixins/entity-reads.mixin";
import { createStateMixin, StateThis } from "../../mixins/state.mixin";

type MessagesRepoThis = Service & DbThis & StateThis & {
	sequences: SequenceStore;
	hot: HotMessageCache;
	findByClientMsgId(senderId: string, clientMsgId: string): Promise<Message | null>;
	listFromDatabase(params: ListMessagesParams): Promise<MessagePage>;
};

export type ClientMsgIdClaim = { claimed: true } | { claimed: false; messageId: string | null };

/** How long a clientMsgId is remembered in the state store; older resends are caught by the database's unique key. */
const DEDUP_TTL_SECONDS = 24 * 3600;
/** How long a claim may stay pending before another sender of the same clientMsgId may take over. */
const CLAIM_TTL_SECONDS = 30;
const PENDING = "pending";
const dedupKey = (senderId: string, clientMsgId: string) => `dedup:${senderId}:${clientMsgId}`;

export interface ListMessagesParams {
	conversationId: string;
	beforeSeq?: number;
	afterSeq?: number;
	limit: number;
}

export interface MessagePage {
	messages: Message[];
	hasMore: boolean;
}

/** Messages, their per-conversation sequence numbers, and the conversation's latest position. */
const MessagesRepoService: ServiceSchema<ServiceSettingSchema, MessagesRepoThis> = {
	name: "repo.messages",
	mixins: [createDbMixin(), createEntityReadsMixin("Message", toMessage), createStateMixin()],
	dependencies: ["repo.database"],

	actions: {
		nextSeq: {
			visibility: "public",
			params: { conversationId: "string" },
			async handler(this: MessagesRepoThis, ctx: Context<{ conversationId: string }>): Promise<number> {
				return this.sequences.next(ctx.params.conversationId);
			}
		},

		/**
		 * Claims a sender's clientMsgId before a seq is taken, so concurrent resends of one message
		 * do not each burn a seq. A lost claim says which message won, or null while it is in flight.
		 */
		claimClientMsgId: {
			visibility: "public",
			params: { senderId: "string", clientMsgId: "string" },
			async handler(this: MessagesRepoThis, ctx: Context<{ senderId: string; clientMsgId: string }>): Promise<ClientMsgIdClaim> {
				const key = dedupKey(ctx.params.senderId, ctx.params.clientMsgId);
				if (await this.state.setNx(key, PENDING, CLAIM_TTL_SECONDS)) return { claimed: true };
				const value = await this.state.get(key);
				return { claimed: false, messageId: value === PENDING ? null : value };
			}
		},

		/** Gives up a claim whose send failed, so a retry can go ahead. */
		releaseClientMsgId: {
			visibility: "public",
			params: { senderId: "string", clientMsgId: "string" },
			async handler(this: MessagesRepoThis, ctx: Context<{ senderId: string; clientMsgId: string }>): Promise<void> {
				const key = dedupKey(ctx.params.senderId, ctx.params.clientMsgId);
				if ((await this.state.get(key)) === PENDING) await this.state.del(key);
			}
		},

		/**
		 * Stores a message and advances the conversation and the sender's read position in one
		 * transaction. A concurrent resend of the same clientMsgId gets the stored original back.
		 */
		insert: {
			visibility: "public",
			params: {
				id: "string",
				conversationId: "string",
				senderId: "string",
				type: "string",
				content: "string",
				seq: { type: "number", integer: true, positive: true },
				clientMsgId: "string"
			},
			async handler(this: MessagesRepoThis, ctx: Context<Omit<Message, "createdAt">>): Promise<{ message: Message; duplicate: boolean }> {
				const m = ctx.params;
				const now = new Date();
				const { Message: Messages, Conversation, Member } = this.db.models;
				try {
					const row = await this.db.transaction(async transaction => {
						const created = await Messages.create({
							id: m.id, conversation_id: m.conversationId, sender_id: m.senderId, type: m.type,
							content: m.content, seq: m.seq, client_msg_id: m.clientMsgId, created_at: now
						}, { transaction });
						await Conversation.update(
							{ last_seq: m.seq, last_message_id: m.id, updated_at: now },
							{ where: { id: m.conversationId, last_seq: { [Op.lt]: m.seq } }, transaction }
						);
						await Member.update(
							{ read_seq: m.seq },
							{ where: { conversation_id: m.conversationId, user_id: m.senderId, read_seq: { [Op.lt]: m.seq } }, transaction }
						);
						return created;
					});
					const message = toMessage(row);
					await this.state.set(dedupKey(m.senderId, m.clientMsgId), message.id, DEDUP_TTL_SECONDS);
					await this.hot.add(message);
					return { message, duplicate: false };
				} catch (err) {
					if (!isUniqueViolation(err)) throw err;
					const original = await this.findByClientMsgId(m.senderId, m.clientMsgId);
					if (!original) throw err;
					return { message: original, duplicate: true };
				}
			}
		},

		findByClientMsgId: {
			visibility: "public",
			params: { senderId: "string", clientMsgId: "string" },
			async handler(this: MessagesRepoThis, ctx: Context<{ senderId: string; clientMsgId: string }>): Promise<Message | null> {
				return this.findByClientMsgId(ctx.params.senderId, ctx.params.clientMsgId);
			}
		},

		/**
		 * A page of history in seq order. With afterSeq it reads forward from there (catch-up);
		 * otherwise it reads back from beforeSeq, or from the newest message.
		 */
		list: {
			visibility: "public",
			params: {
				conversationId: "string",
				beforeSeq: { type: "number", integer: true, optional: true },
				afterSeq: { type: "number", integer: true, optional: true },
				limit: { type: "number", integer: true, positive: true }
			},
			async handler(this: MessagesRepoThis, ctx: Context<ListMessagesParams>): Promise<MessagePage> {
				const { conversationId } = ctx.params;
				if (this.hot.enabled && !(await this.hot.isWarm(conversationId))) {
					const newest = await this.listFromDatabase({ conversationId, limit: this.hot.size });
					await this.hot.fill(conversationId, [...newest.messages].reverse());
				}
				return (await this.hot.read(conversationId, ctx.params)) ?? this.listFromDatabase(ctx.params);
			}
		},

		/** Hot cache counters since this node started. */
		cacheStats: {
			visibility: "public",
			params: {},
			handler(this: MessagesRepoThis): { hits: number; misses: number; hitRatio: number | null } {
				const { hits, misses } = this.hot;
				return { hits, misses, hitRatio: hits + misses > 0 ? hits / (hits + misses) : null };
			}
		}
	},

	methods: {
		async findByClientMsgId(this: MessagesRepoThis, senderId: string, clientMsgId: string): Promise<Message | null> {
			const row = await this.db.models.Message.findOne({ where: { sender_id: senderId, client_msg_id: clientMsgId } });
			return row ? toMessage(row) : null;
		},

		async listFromDatabase(this: MessagesRepoThis, params: ListMessagesParams): Promise<MessagePage> {
			const { conversationId, beforeSeq, afterSeq, limit } = params;
			const seq: Record<symbol, number> = {};
			if (afterSeq !== undefined) seq[Op.gt] = afterSeq;
			if (beforeSeq !== undefined) seq[Op.lt] = beforeSeq;
			const where: WhereOptions = { conversation_id: conversationId, ...(Object.getOwnPropertySymbols(seq).length ? { seq } : {}) };
			const forward = afterSeq !== undefined;
			const rows = await this.db.models.Message.findAll({
				where,
				order: [["seq", forward ? "ASC" : "DESC"]],
				limit: limit + 1
			});
			const hasMore = rows.length > limit;
			const page = rows.slice(0, limit).map(toMessage);
			return { messages: forward ? page : page.reverse(), hasMore };
		}
	},

	created(this: MessagesRepoThis) {
		this.hot = new HotMessageCache(this.state, getConfig().hotCacheSize);
		this.sequences = new SequenceStore(this.state, async conversationId => {
			const max = await this.db.models.Message.max("seq", { where: { conversation_id: conversationId } });
			return Number(max ?? 0);
		});
	}
};

export default MessagesRepoService;
