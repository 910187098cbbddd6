import type { Context, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { call, serviceActions } from "../../lib/contracts";
import type { HistoryParams, SendParams, SendStats, SyncParams, SyncReply } from "../../lib/contracts/logic";
import type { MessagePage } from "../../lib/contracts/repo";
import { fail, toHttpError } from "../../lib/errors";
import { recordAccepted, recordRefusal } from "../../lib/metrics";
import { RateMeter } from "../../lib/rate-meter";
import { NO_RETRY } from "../../lib/resilience";
import { AuthMeta, ConversationType, Message, MESSAGE_TYPES, SYSTEM_SENDER_ID } from "../../lib/types";
import {
	clientMsgIdRule,
	conversationIdRule,
	enumRule,
	messageContentRule,
	pageLimitRule,
	seqRule
} from "../../lib/validation";
import { cursorRule, parseSyncCursor, syncCursor } from "../../lib/page-cursor";
import { collectSyncPage } from "./sync-page";
import { WORLD_CONVERSATION_ID } from "../../lib/conversation-id";
import { createMembershipMixin, MembershipThis } from "../../mixins/membership.mixin";
import { createSnowflakeMixin, SnowflakeThis } from "../../mixins/snowflake.mixin";
import { ConfigThis, createConfigMixin } from "../../mixins/config.mixin";
import { brokerConfig } from "../../lib/config";

interface MessagesMethods {
	deliver(ctx: Context<unknown, { socketId?: string }>, message: Message): void;
	requireSize(content: string): void;
	admitSync<T>(userId: string, run: () => Promise<T>): Promise<T>;
	buildSync(ctx: AuthedContext<SyncParams>): Promise<SyncReply>;
}
type MessagesThis = Service &
	ConfigThis &
	MembershipThis &
	SnowflakeThis &
	MessagesMethods & {
		/** Syncs running per user on this node (SYNC_PER_USER). */
		syncsRunning: Map<string, number>;
		/** Sends this node stored, and refused, since it started. */
		sends: { accepted: RateMeter; refused: RateMeter };
	};
type AuthedContext<P> = Context<P, Required<AuthMeta> & { socketId?: string }>;

/** At most this many messages per conversation in one sync answer; the next answer goes on. */
export const SYNC_PAGE = 200;
/** Most conversations `since` may list, and most one sync answer looks at (a client lists those after its cursor). */
export const SYNC_SINCE_MAX = 1000;
/** Syncs one logic node builds at once, and how many more may wait; past them OVERLOADED. */
const SYNC_CONCURRENCY = 16;
const SYNC_QUEUE = 64;
/** Memberships read per query while a sync walks the caller's conversations. */
const SYNC_READ_BATCH = 250;

/** The kind a conversation ID names (single_…, group_…, world), for the accepted-messages metric. */
function conversationType(id: string): ConversationType {
	if (id === WORLD_CONVERSATION_ID) return "world";
	return id.startsWith("group_") ? "group" : "direct";
}

const sinceRule = {
	type: "record",
	key: { type: "string", min: 1, max: 64 },
	value: { type: "number", integer: true, min: 0, convert: true },
	optional: true
};

/**
 * The send path: check size and membership (cached), take a Snowflake ID, make one
 * call to repo, which de-duplicates, takes the seq and commits; answer, then deliver to online
 * members. Admission is bounded (a bulkhead sized by SEND_CONCURRENCY and SEND_QUEUE): past it a
 * send is refused at once with OVERLOADED, and a send whose caller gave up is never committed.
 */
const MessagesService: ServiceSchema<ServiceSettingSchema, MessagesThis> = {
	name: "messages",
	mixins: [createConfigMixin(), createMembershipMixin(), createSnowflakeMixin()],

	actions: serviceActions("messages", {
		/** Never retried by the broker: a retry after a timeout could store a send the caller gave up on. */
		send: {
			retryPolicy: NO_RETRY,
			/**
			 * Every send that ends in an error was refused, whatever refused it: validation, the
			 * fair bulkhead, the timeout or the handler (MetricsMiddleware in lib/telemetry.ts calls it).
			 */
			onRefused(this: MessagesThis, err: unknown) {
				this.sends.refused.mark();
				recordRefusal(this.broker, toHttpError(err).body.error.code);
			},
			// Admitted by its own fair bulkhead (below), which queues per user.
			bulkhead: { enabled: false },
			params: {
				conversationId: conversationIdRule,
				clientMsgId: clientMsgIdRule,
				type: enumRule(MESSAGE_TYPES),
				content: messageContentRule
			},
			async handler(this: MessagesThis, ctx: AuthedContext<SendParams>): Promise<{ message: Message }> {
				this.requireSize(ctx.params.content);
				const { conversationId, clientMsgId, type, content } = ctx.params;
				await this.requireMember(ctx, conversationId);
				const { message, duplicate } = await call(ctx, "repo.messages.append", {
					id: this.nextId(),
					conversationId,
					senderId: ctx.meta.userId,
					type,
					content,
					clientMsgId
				});
				if (message.conversationId !== conversationId) {
					fail("CLIENT_MSG_ID_CONFLICT", "This clientMsgId was already used for another conversation");
				}
				// A resend answers with the original and delivers nothing again.
				if (!duplicate) {
					this.sends.accepted.mark();
					recordAccepted(this.broker, conversationType(conversationId));
					this.deliver(ctx, message);
				}
				return { message };
			}
		},

		/** An operator's system message (gochat say): stored and delivered like any other, from sender "0". */
		say: {
			visibility: "public",
			retryPolicy: NO_RETRY,
			params: { conversationId: conversationIdRule, text: messageContentRule },
			async handler(
				this: MessagesThis,
				ctx: Context<{ conversationId: string; text: string }>
			): Promise<Message> {
				const { conversationId, text } = ctx.params;
				this.requireSize(text);
				const conversation = await call(ctx, "repo.conversations.get", { id: conversationId });
				if (!conversation) fail("CONVERSATION_NOT_FOUND", "No such conversation");
				const id = this.nextId();
				const { message } = await call(ctx, "repo.messages.append", {
					id,
					conversationId,
					senderId: SYSTEM_SENDER_ID,
					type: "system",
					content: text,
					clientMsgId: `system-${id}`
				});
				recordAccepted(this.broker, conversationType(conversationId));
				this.deliver(ctx, message);
				return message;
			}
		},

		/** Sends this node accepted and refused (gochat stats). */
		stats: {
			visibility: "public",
			params: {},
			handler(this: MessagesThis): SendStats {
				const { accepted, refused } = this.sends;
				return {
					nodeId: this.broker.nodeID,
					accepted: accepted.total,
					refused: refused.total,
					acceptedPerSecond: accepted.perSecond(),
					refusedPerSecond: refused.perSecond()
				};
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
				const { messages, hasMore } = await call(ctx, "repo.messages.list", {
					conversationId,
					beforeSeq,
					afterSeq,
					limit: limit ?? 50,
					maxBytes: this.config.pageMaxBytes
				});
				return { messages, hasMore };
			}
		},

		/**
		 * Catch-up after a reconnect, one bounded answer at a time (see sync-page.ts): the caller's
		 * conversations after `cursor` with messages after the seq listed in `since`, or their
		 * newest messages if not listed, and the `nextCursor` to go on with. A user runs at most
		 * SYNC_PER_USER syncs at once on a node; their building waits in a bulkhead.
		 */
		sync: {
			params: { since: sinceRule, cursor: cursorRule },
			async handler(this: MessagesThis, ctx: AuthedContext<SyncParams>): Promise<SyncReply> {
				const { since, cursor } = ctx.params;
				if (since && Object.keys(since).length > SYNC_SINCE_MAX) {
					fail(
						"INVALID_INPUT",
						`'since' may list at most ${SYNC_SINCE_MAX} conversations: those after the cursor`,
						{ max: SYNC_SINCE_MAX }
					);
				}
				if (cursor !== undefined) parseSyncCursor(cursor);
				return this.admitSync(ctx.meta.userId, () => this.actions.buildSync(ctx.params, { parentCtx: ctx }));
			}
		},

		/** The work of one sync answer, behind a bulkhead so a node builds a bounded number at once. */
		buildSync: {
			visibility: "private",
			bulkhead: { enabled: true, concurrency: SYNC_CONCURRENCY, maxQueueSize: SYNC_QUEUE },
			params: { since: sinceRule, cursor: cursorRule },
			handler(this: MessagesThis, ctx: AuthedContext<SyncParams>): Promise<SyncReply> {
				return this.buildSync(ctx);
			}
		}
	}),

	methods: {
		/** Runs a sync unless the user already has SYNC_PER_USER running on this node. */
		async admitSync<T>(this: MessagesThis, userId: string, run: () => Promise<T>): Promise<T> {
			const limit = this.config.syncPerUser;
			const running = this.syncsRunning.get(userId) ?? 0;
			if (running >= limit) {
				fail("RATE_LIMITED", `At most ${limit} syncs at once per user; retry when one has answered`, {
					retryAfter: 1,
					limit
				});
			}
			this.syncsRunning.set(userId, running + 1);
			try {
				return await run();
			} finally {
				const left = (this.syncsRunning.get(userId) ?? 1) - 1;
				if (left > 0) this.syncsRunning.set(userId, left);
				else this.syncsRunning.delete(userId);
			}
		},

		async buildSync(this: MessagesThis, ctx: AuthedContext<SyncParams>): Promise<SyncReply> {
			const { syncMaxConversations, pageMaxBytes } = this.config;
			const userId = ctx.meta.userId;
			const after = ctx.params.cursor === undefined ? "" : parseSyncCursor(ctx.params.cursor);
			const { conversations, resumeAfter } = await collectSyncPage(
				{
					conversationsAfter: (afterId, limit) =>
						call(ctx, "repo.conversations.listForUserById", { userId, afterId, limit }),
					messages: params => call(ctx, "repo.messages.list", params)
				},
				ctx.params.since ?? {},
				after,
				{
					maxConversations: syncMaxConversations,
					maxBytes: pageMaxBytes,
					maxVisited: SYNC_SINCE_MAX,
					perConversation: SYNC_PAGE,
					readBatch: SYNC_READ_BATCH
				}
			);
			return { conversations, nextCursor: resumeAfter === null ? null : syncCursor(resumeAfter) };
		},

		requireSize(this: MessagesThis, content: string) {
			const maxBytes = this.config.messageMaxBytes;
			if (Buffer.byteLength(content, "utf8") > maxBytes) {
				fail("MESSAGE_TOO_LARGE", `The content exceeds ${maxBytes} bytes`, { maxBytes });
			}
		},

		/** Delivery runs after the answer: the message is stored, a client that misses the push catches up by sync. */
		deliver(this: MessagesThis, ctx: Context<unknown, { socketId?: string }>, message: Message) {
			call(ctx, "delivery.message", { message, exceptSocketId: ctx.meta.socketId }).catch(err =>
				this.logger.warn(`Delivery of message ${message.id} failed: ${err.message}`)
			);
		}
	},

	/**
	 * Admission and deadline of the send path come from config, read when the service is built:
	 * the send's `timeout` is SEND_TIMEOUT_MS. Waiting sends queue per user and free slots go round
	 * the users, so one user's burst delays only that user (RATE_LIMITED past SEND_QUEUE_PER_USER,
	 * OVERLOADED past SEND_QUEUE).
	 */
	merged(this: MessagesThis, schema: ServiceSchema) {
		const { sendConcurrency, sendQueue, sendQueuePerUser, sendTimeoutMs } = brokerConfig(this.broker);
		const actions = schema.actions as Record<string, object>;
		actions.send = {
			...actions.send,
			timeout: sendTimeoutMs,
			fairBulkhead: {
				concurrency: sendConcurrency,
				maxQueueSize: sendQueue,
				maxQueuePerKey: sendQueuePerUser,
				key: (ctx: Context<unknown, AuthMeta>) => ctx.meta.userId
			}
		};
	},

	created(this: MessagesThis) {
		this.syncsRunning = new Map();
		this.sends = { accepted: new RateMeter(), refused: new RateMeter() };
	}
};

export default MessagesService;
