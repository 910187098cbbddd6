import type { Context, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { performance } from "perf_hooks";
import { Op, WhereOptions } from "sequelize";
import { Params, serviceActions } from "../../lib/contracts";
import type { HotCacheStats, ListMessagesParams, MessagesStats, SizedPage } from "../../lib/contracts/repo";
import { AppendResult, MessageWriter } from "../../lib/db/message-writer";
import { fromRaw } from "../../lib/db/models";
import { fail } from "../../lib/errors";
import { messageBytes, PageBudget } from "../../lib/page-budget";
import { NO_RETRY } from "../../lib/resilience";
import { recordHotCacheRead } from "../../lib/metrics";
import { HotMessageCache } from "../../lib/state/hot-message-cache";
import type { Message } from "../../lib/types";
import { ConfigThis, createConfigMixin } from "../../mixins/config.mixin";
import { createDbMixin, DbThis } from "../../mixins/db.mixin";
import { createStateMixin, StateThis } from "../../mixins/state.mixin";

type MessagesRepoThis = Service &
	ConfigThis &
	DbThis &
	StateThis & {
		writer: MessageWriter;
		hot: HotMessageCache;
		lastCacheWarning: number;
		lastSeqOf(conversationId: string): Promise<number>;
		listFromDatabase(params: ListMessagesParams): Promise<SizedPage>;
		cacheWritten(messages: Message[]): void;
	};

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
	mixins: [createConfigMixin(), createDbMixin({ model: "Message" }), createStateMixin()],
	dependencies: ["repo.database"],

	actions: serviceActions("repo.messages", {
		/**
		 * Stores a message (the one call of the send path): de-duplicated by the sender's
		 * clientMsgId, given the conversation's next seq, committed with the conversation's new
		 * position and the sender's read position. A resend gets the original, `duplicate: true`.
		 */
		// Group commit with a caller's deadline: one raw multi-row insert per batch, not moleculer-db's insert.
		append: {
			visibility: "public",
			retryPolicy: NO_RETRY,
			// Bounded by the send admission of every logic node and the writer's own queue; a bulkhead here
			// would make several logic nodes queue behind one repo node's slots.
			bulkhead: { enabled: false },
			params: {
				id: "string",
				conversationId: "string",
				senderId: "string",
				type: "string",
				content: "string",
				clientMsgId: "string"
			},
			async handler(this: MessagesRepoThis, ctx: Context<Params<"repo.messages.append">>): Promise<AppendResult> {
				return this.writer.append(ctx.params, deadlineOf(ctx));
			}
		},

		/**
		 * A page of history in seq order. With afterSeq it reads forward from there (catch-up);
		 * otherwise it reads back from beforeSeq, or from the newest message. Served from the hot
		 * cache only when the cache holds the whole page up to the last seq SQL knows. Either way
		 * the page stops at maxBytes (hasMore: true). Seq ranges and a byte budget: not moleculer-db's list.
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
			async handler(this: MessagesRepoThis, ctx: Context<Params<"repo.messages.list">>): Promise<SizedPage> {
				const { conversationId, beforeSeq } = ctx.params;
				if (!this.hot.enabled) return this.listFromDatabase(ctx.params);
				const lastSeq = ctx.params.lastSeq ?? (await this.lastSeqOf(conversationId));
				const cached = await this.hot.read(conversationId, ctx.params, lastSeq).catch(() => null);
				if (cached) return cached;
				const page = await this.listFromDatabase(ctx.params);
				const upper = Math.min(lastSeq, beforeSeq !== undefined ? beforeSeq - 1 : lastSeq);
				if (this.hot.covers(lastSeq, upper)) {
					// The newest window was incomplete (a new, flushed or rewound cache): load it again.
					const newest = await this.listFromDatabase({
						conversationId,
						limit: this.hot.size,
						maxBytes: Infinity
					});
					this.cacheWritten(newest.messages);
				}
				return page;
			}
		},

		// moleculer-db's get with an ID list, under the contract's name and params.
		getMany: {
			visibility: "public",
			params: { ids: { type: "array", items: "string" } },
			async handler(this: MessagesRepoThis, ctx: Context<Params<"repo.messages.getMany">>): Promise<Message[]> {
				return ctx.params.ids.length === 0 ? [] : this._get<Message[]>(ctx, { id: ctx.params.ids });
			}
		},

		/** Reads served by the hot cache and reads that went to SQL since this node started (gochat stats). */
		hotCacheStats: {
			visibility: "public",
			params: {},
			handler(this: MessagesRepoThis): HotCacheStats {
				return this.hot.stats();
			}
		},

		/** Hot cache and group commit counters since this node started (REPL: call repo.messages.stats). */
		stats: {
			visibility: "public",
			params: {},
			handler(this: MessagesRepoThis): MessagesStats {
				const { hits, misses } = this.hot;
				const { batches, messages } = this.writer;
				return {
					cache: { hits, misses, hitRatio: hits + misses > 0 ? hits / (hits + misses) : null },
					groupCommit: { batches, messages, messagesPerBatch: batches > 0 ? messages / batches : null }
				};
			}
		}
	}),

	methods: {
		async lastSeqOf(this: MessagesRepoThis, conversationId: string): Promise<number> {
			const row = await this.db.models.Conversation.findByPk(conversationId, { attributes: ["lastSeq"] });
			if (!row) fail("CONVERSATION_NOT_FOUND", "No such conversation");
			return row.get("lastSeq") as number;
		},

		/**
		 * Reads in rounds until the page is full, the budget spent or the range ends: first a few
		 * rows, then as many more as the budget and the limit still allow at the sizes seen so far.
		 */
		async listFromDatabase(this: MessagesRepoThis, params: ListMessagesParams): Promise<SizedPage> {
			const { conversationId, beforeSeq, afterSeq, limit } = params;
			const { Message } = this.db.models;
			const forward = afterSeq !== undefined;
			const budget = new PageBudget(params.maxBytes, params.allowEmpty);
			const page: Message[] = [];
			// The exclusive bounds still to read: the end the page grows from moves past every row read.
			let [after, before] = [afterSeq, beforeSeq];
			let rows = Math.min(limit + 1, FIRST_READ_ROWS);
			for (;;) {
				const seq = {
					...(after !== undefined ? { [Op.gt]: after } : {}),
					...(before !== undefined ? { [Op.lt]: before } : {})
				};
				const where: WhereOptions = {
					conversationId,
					...(Object.getOwnPropertySymbols(seq).length ? { seq } : {})
				};
				// Raw rows through the model's getters: model instances would cost several times the query.
				const found = await Message.findAll({
					where,
					order: [["seq", forward ? "ASC" : "DESC"]],
					limit: rows,
					raw: true
				});
				for (const row of found) {
					const message = fromRaw<Message>(Message, row);
					// A row past the limit or the budget only proves there is more.
					if (page.length === limit || !budget.take(messageBytes(message)))
						return sized(page, true, budget, forward);
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
		this.hot = new HotMessageCache(this.state, this.config.hotCacheSize, hit =>
			recordHotCacheRead(this.broker, hit)
		);
		this.writer = new MessageWriter(this.db, messages => this.cacheWritten(messages));
	}
};

export default MessagesRepoService;
