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
	store(ctx: AuthedContext<SendParams>): Promise<{ message: Message; isNew: boolean }>;
	claim(ctx: AuthedContext<SendParams>): Promise<Message | null>;
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
/** How long a resend waits for the same message that is being stored right now. */
const IN_FLIGHT_WAIT_MS = 3000;
const IN_FLIGHT_POLL_MS = 25;

/**
 * The send path (DECISIONS §3): check membership, de-duplicate by the sender's clientMsgId,
 * take a Snowflake ID and the next seq, persist, answer, then deliver to online members.
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
				await this.requireMember(ctx, ctx.params.conversationId);
				const { message, isNew } = await this.store(ctx);
				if (message.conversationId !== ctx.params.conversationId) {
					fail("CLIENT_MSG_ID_CONFLICT", "This clientMsgId was already used for another conversation");
				}
				// A resend answers with the original and delivers nothing again.
				if (isNew) this.deliver(ctx, message);
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
						limit: SYNC_PAGE
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
		/** Stores the message once; a resend, concurrent or late, gets the stored original. */
		async store(this: MessagesThis, ctx: AuthedContext<SendParams>) {
			const { conversationId, clientMsgId, type, content } = ctx.params;
			const senderId = ctx.meta.userId;
			const original = await this.claim(ctx);
			if (original) return { message: original, isNew: false };
			try {
				// The claim store forgets (after a day, or a restart without Redis); the database does not.
				const stored = await call(ctx, "repo.messages.findByClientMsgId", { senderId, clientMsgId });
				if (stored) return { message: stored, isNew: false };
				const seq = await call(ctx, "repo.messages.nextSeq", { conversationId });
				const { message, duplicate } = await call(ctx, "repo.messages.insert", {
					id: this.nextId(), conversationId, senderId, type, content, seq, clientMsgId
				});
				return { message, isNew: !duplicate };
			} catch (err) {
				await call(ctx, "repo.messages.releaseClientMsgId", { senderId, clientMsgId });
				throw err;
			}
		},

		/**
		 * Takes the clientMsgId for this send, or returns the message it already names. While the
		 * same message is being stored by another request, waits briefly for it: taking a seq
		 * ourselves would leave a gap in the conversation.
		 */
		async claim(this: MessagesThis, ctx: AuthedContext<SendParams>): Promise<Message | null> {
			const key = { senderId: ctx.meta.userId, clientMsgId: ctx.params.clientMsgId };
			for (let waited = 0; ; waited += IN_FLIGHT_POLL_MS) {
				const claim = await call(ctx, "repo.messages.claimClientMsgId", key);
				if (claim.claimed) return null;
				if (claim.messageId) {
					const [message] = await call(ctx, "repo.messages.getMany", { ids: [claim.messageId] });
					if (message) return message;
				}
				if (waited >= IN_FLIGHT_WAIT_MS) fail("SERVICE_UNAVAILABLE", "This message is still being stored; retry shortly");
				await new Promise(resolve => setTimeout(resolve, IN_FLIGHT_POLL_MS));
			}
		},

		/** Delivery runs after the answer: the message is stored, a client that misses the push catches up by sync. */
		deliver(this: MessagesThis, ctx: AuthedContext<unknown>, message: Message) {
			call(ctx, "delivery.message", { message, exceptSocketId: ctx.meta.socketId })
				.catch(err => this.logger.warn(`Delivery of message ${message.id} failed: ${err.message}`));
		}
	}
};

export default MessagesService;
