import type { Context, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { call } from "../../lib/actions";
import { getConfig } from "../../lib/config";
import { fail } from "../../lib/errors";
import { AuthMeta, Message, MESSAGE_TYPES, MessageType } from "../../lib/types";
import { conversationIdRule, enumRule, pageLimitRule, seqRule } from "../../lib/validation";
import type { MessagePage } from "../repo/messages.service";
import { createMembershipMixin, MembershipThis } from "../../mixins/membership.mixin";
import { createSnowflakeMixin, SnowflakeThis } from "../../mixins/snowflake.mixin";

interface MessagesMethods {
	deliver(ctx: AuthedContext<unknown>, message: Message): void;
}
type MessagesThis = Service & MembershipThis & SnowflakeThis & MessagesMethods;
type AuthedContext<P> = Context<P, Required<AuthMeta> & { socketId?: string }>;

export interface SendParams {
	conversationId: string;
	clientMsgId: string;
	type: MessageType;
	content: string;
}

interface HistoryParams {
	conversationId: string;
	beforeSeq?: number;
	afterSeq?: number;
	limit?: number;
}

export interface SyncedConversation extends MessagePage {
	conversationId: string;
	lastSeq: number;
	readSeq: number;
	unreadCount: number;
}

/** At most this many messages per conversation in one sync answer; the client pages on with afterSeq. */
export const SYNC_PAGE = 200;

/**
 * The send path (DECISIONS §3): check size and membership (cached), take a Snowflake ID, make one
 * call to repo, which de-duplicates, takes the seq and commits; answer, then deliver to online
 * members. Admission is bounded (a bulkhead sized by SEND_CONCURRENCY and SEND_QUEUE): past it a
 * send is refused at once with OVERLOADED, and a send whose caller gave up is never committed.
 */
const MessagesService: ServiceSchema<ServiceSettingSchema, MessagesThis> = {
	name: "messages",
	mixins: [createMembershipMixin(), createSnowflakeMixin()],

	actions: {
		send: {
			params: {
				conversationId: conversationIdRule,
				clientMsgId: { type: "string", min: 1, max: 64 },
				type: enumRule(MESSAGE_TYPES),
				content: { type: "string", min: 1 }
			},
			async handler(this: MessagesThis, ctx: AuthedContext<SendParams>): Promise<{ message: Message }> {
				const maxBytes = getConfig().messageMaxBytes;
				if (Buffer.byteLength(ctx.params.content, "utf8") > maxBytes) {
					fail("MESSAGE_TOO_LARGE", `The content exceeds ${maxBytes} bytes`, { maxBytes });
				}
				const { conversationId, clientMsgId, type, content } = ctx.params;
				await this.requireMember(ctx, conversationId);
				const { message, duplicate } = await call(ctx, "repo.messages.append", {
					id: this.nextId(), conversationId, senderId: ctx.meta.userId, type, content, clientMsgId
				});
				if (message.conversationId !== conversationId) {
					fail("CLIENT_MSG_ID_CONFLICT", "This clientMsgId was already used for another conversation");
				}
				// A resend answers with the original and delivers nothing again.
				if (!duplicate) this.deliver(ctx, message);
				return { message };
			}
		},

		history: {
			params: {
				conversationId: conversationIdRule,
				beforeSeq: { ...seqRule, optional: true },
				afterSeq: { ...seqRule, optional: true },
				limit: pageLimitRule(200)
			},
			async handler(this: MessagesThis, ctx: AuthedContext<HistoryParams>): Promise<MessagePage> {
				const { conversationId, beforeSeq, afterSeq, limit } = ctx.params;
				await this.requireMember(ctx, conversationId);
				return call(ctx, "repo.messages.list", { conversationId, beforeSeq, afterSeq, limit: limit ?? 50 });
			}
		},

		/**
		 * Catch-up after a reconnect: for every conversation of the caller with messages after the
		 * seq the client last saw, those messages in seq order. Conversations the client did not
		 * list come with their newest messages.
		 */
		sync: {
			params: {
				since: {
					type: "record",
					key: { type: "string", min: 1, max: 64 },
					value: { type: "number", integer: true, min: 0, convert: true },
					optional: true
				}
			},
			async handler(this: MessagesThis, ctx: AuthedContext<{ since?: Record<string, number> }>): Promise<{ conversations: SyncedConversation[] }> {
				const since = ctx.params.since ?? {};
				const rows = await call(ctx, "repo.conversations.listForUser", { userId: ctx.meta.userId });
				const stale = rows.filter(({ conversation }) => conversation.lastSeq > (since[conversation.id] ?? 0));
				const conversations = await Promise.all(stale.map(async ({ conversation, membership }) => {
					const listed = since[conversation.id] !== undefined;
					const page = await call(ctx, "repo.messages.list", {
						conversationId: conversation.id,
						afterSeq: listed ? since[conversation.id] : undefined,
						limit: SYNC_PAGE,
						lastSeq: conversation.lastSeq
					});
					return {
						conversationId: conversation.id,
						lastSeq: conversation.lastSeq,
						readSeq: membership.readSeq,
						unreadCount: Math.max(0, conversation.lastSeq - membership.readSeq),
						...page
					};
				}));
				return { conversations };
			}
		}
	},

	methods: {
		/** Delivery runs after the answer: the message is stored, a client that misses the push catches up by sync. */
		deliver(this: MessagesThis, ctx: AuthedContext<unknown>, message: Message) {
			call(ctx, "delivery.message", { message, exceptSocketId: ctx.meta.socketId })
				.catch(err => this.logger.warn(`Delivery of message ${message.id} failed: ${err.message}`));
		}
	},

	/** Admission and deadline of the send path come from config, read when the service is built. */
	merged(this: MessagesThis, schema: ServiceSchema) {
		const { sendConcurrency, sendQueue, sendTimeoutMs } = getConfig();
		const actions = schema.actions as Record<string, object>;
		actions.send = {
			...actions.send,
			timeout: sendTimeoutMs,
			bulkhead: { enabled: true, concurrency: sendConcurrency, maxQueueSize: sendQueue }
		};
	}
};

export default MessagesService;
