import type { Context, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { performance } from "perf_hooks";
import { Op, WhereOptions } from "sequelize";
import { AppendResult, MessageWriter, NewMessage } from "../../lib/db/message-writer";
import { toMessage } from "../../lib/db/models";
import { fail } from "../../lib/errors";
import { messageBytes, PageBudget } from "../../lib/page-budget";
import { HotMessageCache } from "../../lib/state/hot-message-cache";
import type { Message } from "../../lib/types";
import { createDbMixin, DbThis } from "../../mixins/db.mixin";
import { createEntityReadsMixin } from "../../mixins/entity-reads.mixin";
import { createStateMixin, StateThis } from "../../mixins/state.mixin";
import { ConfigThis, createConfigMixin } from "../../mixins/config.mixin";

type MessagesRepoThis = Service & ConfigThis & DbThis & StateThis & {
	writer: MessageWriter;
	hot: HotMessageCache;
	lastCacheWarning: number;
	lastSeqOf(conversationId: string): Promise<number>;
	listFromDatabase(params: ListMessagesParams): Promise<SizedPage>;
	cacheWritten(messages: Message[]): void;
};

export interface ListMessagesParams {
	conversationId: string;
	beforeSeq?: number;
	afterSeq?: number;
	limit: number;
	/** The conversation's last seq, when the caller has just read it from SQL. */
	lastSeq?: number;
	/** Fewer messages, hasMore true, past this many bytes of their JSON (PAGE_MAX_BYTES; see PageBudget). */
	maxBytes: number;
	/** A first message larger than maxBytes is left out instead of sent alone (the page is then empty, hasMore true). */
	allowEmpty?: boolean;
}

export interface MessagePage {
	messages: Message[];
	hasMore: boolean;
}

/** A page and its size, so a caller filling one reply from several pages knows what is left. */
export interface SizedPage extends MessagePage {
	bytes: number;
}

/**
 * Room kept between committing a message and the caller's deadline, for the answer to travel
 * back: a send the caller already gave up on must never be found stored later.
 */
const COMMIT_MARGIN_MS = 100;
/**
 * Rows read from SQL at first, before their sizes are known: a page of large messages stops
 * after one read instead of loading `limit` of them to keep a few.
 */
const FIRST_READ_ROWS = 64;
/** A failing hot cache (Redis down) is worth a warning, not one per batch. */
const CACHE_WARNING_INTERVAL_MS = 10_000;

/** Pages are built in the order they are read; backward reads are turned to ascending seq here. */
function sized(page: Message[], hasMore: boolean, budget: PageBudget, forward: boolean): SizedPage {
	return { messages: forward ? page : page.reverse(), hasMore, bytes: budget.bytes };
}

/** The moment the caller of this context gives up: Moleculer passes the remaining timeout along. */
function deadlineOf(ctx: Context & { startHrTime?: [number, number] }): number {
	const timeout = ctx.options.timeout;
	if (!timeout || timeout <= 0 || !ctx.startHrTime) return Infinity;
	const [seconds, nanos] = process.hrtime(ctx.startHrTime);
	return performance.now() + timeout - (seconds * 1e3 + nanos / 1e6) - COMMIT_MARGIN_MS;
}

/** Messages: stored by group commit with their per-conversation seq, read through the hot cache. */
const MessagesRepoService: ServiceSchema<ServiceSettingSchema, MessagesRepoThis> = {
	name: "repo.messages",
	mixins: [createConfigMixin(), createDbMixin(), createEntityReadsMixin("Message", toMessage), createStateMixin()],
	dependencies: ["repo.database"],

	actions: {
		/**
		 * Stores a message (the one call of the send path): de-duplicated by the sender's
		 * clientMsgId, given the conversation's next seq, committed with the conversation's new
		 * position and the sender's read position. A resend gets the original, `duplicate: true`.
		 */
		append: {
			visibility: "public",
			params: {
				id: "string",
				conversationId: "string",
				senderId: "string",
				type: "string",
				content: "string",
				clientMsgId: "string"
			},
			async handler(this: MessagesRepoThis, ctx: Context<NewMessage>): Promise<AppendResult> {
				return this.writer.append(ctx.params, deadlineOf(ctx));
			}
		},

		/**
		 * A page of history in seq order. With afterSeq it reads forward from there (catch-up);
		 * otherwise it reads back from beforeSeq, or from the newest message. Served from the hot
		 * cache only when the cache holds the whole page up to the last seq SQL knows. Either way
		 * the page stops at maxBytes (hasMore: true).
		 */
		list: {
			visibility: "public",
			params: {
				conversationId: "string",
				beforeSeq: { type: "number", integer: true, optional: true },
				afterSeq: { type: "number", integer: true, optional: true },
				limit: { type: "number", integer: true, positive: true },
				lastSeq: { type: "number", integer: true, min: 0, optional: true },
				maxBytes: { type: "number", integer: true, positive: true },
				allowEmpty: { type: "boolean", optional: true }
			},
			async handler(this: MessagesRepoThis, ctx: Context<ListMessagesParams>): Promise<SizedPage> {
				const { conversationId, beforeSeq } = ctx.params;
				if (!this.hot.enabled) return this.listFromDatabase(ctx.params);
				const lastSeq = ctx.params.lastSeq ?? (await this.lastSeqOf(conversationId));
				const cached = await this.hot.read(conversationId, ctx.params, lastSeq).catch(() => null);
				if (cached) return cached;
				const page = await this.listFromDatabase(ctx.params);
				const upper = Math.min(lastSeq, beforeSeq !== undefined ? beforeSeq - 1 : lastSeq);
				if (this.hot.covers(lastSeq, upper)) {
					// The newest window was incomplete (a new, flushed or rewound cache): load it again.
					const newest = await this.listFromDatabase({ conversationId, limit: this.hot.size, maxBytes: Infinity });
					this.cacheWritten(newest.messages);
				}
				return page;
			}
		},

		/** Hot cache and group commit counters since this node started (REPL: call repo.messages.stats). */
		stats: {
			visibility: "public",
			params: {},
			handler(this: MessagesRepoThis) {
				const { hits, misses } = this.hot;
				const { batches, messages } = this.writer;
				return {
					cache: { hits, misses, hitRatio: hits + misses > 0 ? hits / (hits + misses) : null },
					groupCommit: { batches, messages, messagesPerBatch: batches > 0 ? messages / batches : null }
				};
			}
		}
	},

	methods: {
		async lastSeqOf(this: MessagesRepoThis, conversationId: string): Promise<number> {
			const row = await this.db.models.Conversation.findByPk(conversationId, { attributes: ["last_seq"], raw: true });
			if (!row) fail("CONVERSATION_NOT_FOUND", "No such conversation");
			return Number((row as unknown as { last_seq: unknown }).last_seq);
		},

		/**
		 * Reads in rounds until the page is full, the budget spent or the range ends: first a few
		 * rows, then as many more as the budget and the limit still allow at the sizes seen so far.
		 */
		async listFromDatabase(this: MessagesRepoThis, params: ListMessagesParams): Promise<SizedPage> {
			const { conversationId, beforeSeq, afterSeq, limit } = params;
			const forward = afterSeq !== undefined;
			const budget = new PageBudget(params.maxBytes, params.allowEmpty);
			const page: Message[] = [];
			// The exclusive bounds still to read: the end the page grows from moves past every row read.
			let [after, before] = [afterSeq, beforeSeq];
			let rows = Math.min(limit + 1, FIRST_READ_ROWS);
			for (;;) {
				const seq = { ...(after !== undefined ? { [Op.gt]: after } : {}), ...(before !== undefined ? { [Op.lt]: before } : {}) };
				const where: WhereOptions = { conversation_id: conversationId, ...(Object.getOwnPropertySymbols(seq).length ? { seq } : {}) };
				const found = await this.db.models.Message.findAll({ where, order: [["seq", forward ? "ASC" : "DESC"]], limit: rows });
				for (const row of found) {
					const message = toMessage(row);
					// A row past the limit or the budget only proves there is more.
					if (page.length === limit || !budget.take(messageBytes(message))) return sized(page, true, budget, forward);
					page.push(message);
					if (forward) after = message.seq;
					else before = message.seq;
				}
				if (found.length < rows) return sized(page, false, budget, forward);
				const average = budget.bytes / page.length;
				rows = Math.min(limit + 1 - page.length, Math.ceil((budget.maxBytes - budget.bytes) / average) + 1);
			}
		},

		/** The cache only speeds reads up: a failure to write it is logged and changes nothing else. */
		cacheWritten(this: MessagesRepoThis, messages: Message[]) {
			this.hot.add(messages).catch(err => {
				if (Date.now() - this.lastCacheWarning < CACHE_WARNING_INTERVAL_MS) return;
				this.lastCacheWarning = Date.now();
				this.logger.warn(`Hot message cache not updated (reads fall back to the database): ${err.message}`);
			});
		}
	},

	created(this: MessagesRepoThis) {
		this.lastCacheWarning = 0;
		this.hot = new HotMessageCache(this.state, this.config.hotCacheSize);
		this.writer = new MessageWriter(this.db, messages => this.cacheWritten(messages));
	}
};

export default MessagesRepoService;
