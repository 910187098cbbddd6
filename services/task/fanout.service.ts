import type { Context, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { channelSendOptions, unprefixedChannel } from "../../lib/channels";
import { call, serviceActions } from "../../lib/contracts";
import {
	BatchJob,
	DeadLetter,
	FANOUT_BATCH_CHANNEL,
	FANOUT_DEAD_LETTER_CHANNEL,
	FANOUT_MESSAGE_CHANNEL,
	FanoutJob
} from "../../lib/contracts/channels";
import { FANOUT_DEAD_LETTERED_EVENT } from "../../lib/contracts/events";
import type { StoredDeadLetter } from "../../lib/contracts/repo";
import type { FanoutStats } from "../../lib/contracts/task";
import { WORLD_CONVERSATION_ID } from "../../lib/conversation-id";
import { countFanoutDeadLettered, countFanoutQueued } from "../../lib/metrics";
import { NO_RETRY } from "../../lib/resilience";
import { idListRule } from "../../lib/validation";
import type { ChannelRetryOptions } from "../../middlewares/channel-retry.middleware";

interface FanoutMethods {
	deadLettersAmong(ctx: Context, ids?: string[]): Promise<StoredDeadLetter[]>;
	track<T>(work: () => Promise<T>): Promise<T>;
}
type FanoutThis = Service & FanoutMethods & { counts: Omit<FanoutStats, "nodeId"> };

/** Members resolved and pushed per batch. */
export const FANOUT_BATCH_SIZE = 1000;
/** Dead letters read per query while replaying or dropping them all. */
const DEAD_LETTER_PAGE = 500;
/** The channels a dead letter may be sent back to. */
const REPLAYABLE = new Set([FANOUT_MESSAGE_CHANNEL, FANOUT_BATCH_CHANNEL]);
/** The header the queue adapters put on a job they moved to the dead letters themselves. */
const ORIGINAL_CHANNEL_HEADER = "x-original-channel";

const retry: ChannelRetryOptions = {
	attempts: 5,
	baseDelayMs: 200,
	maxDelayMs: 3000,
	deadLetterChannel: FANOUT_DEAD_LETTER_CHANNEL
};
/** A job the queue delivered this often (its consumers kept dying on it) goes to the dead letters as it is. */
const redelivery = { maxRetries: 3, deadLettering: { enabled: true, queueName: FANOUT_DEAD_LETTER_CHANNEL } };

const idsRule = { ...idListRule(10_000), optional: true };

/**
 * Fan-out of large groups and the world room. A message job pages through the members and
 * queues one batch job per 1,000 of them; a batch job finds where those members are online and
 * pushes once per gateway node. Failing jobs back off and retry, then land in the dead-letter
 * channel, whose handler keeps them in SQL until an operator replays or drops them; a job whose
 * consumer died is delivered again by the queue. Every job carries its sender's context, so a
 * message's request ID reaches the pushes.
 */
const FanoutService: ServiceSchema<ServiceSettingSchema, FanoutThis> = {
	name: "task.fanout",

	actions: serviceActions("task.fanout", {
		/** Jobs this node finished since it started, and those it is working on (gochat stats). */
		stats: {
			visibility: "public",
			params: {},
			handler(this: FanoutThis): FanoutStats {
				return { nodeId: this.broker.nodeID, ...this.counts };
			}
		},

		deadLetters: {
			visibility: "public",
			params: { limit: { type: "number", integer: true, min: 0, max: 1000, convert: true } },
			async handler(
				this: FanoutThis,
				ctx: Context<{ limit: number }>
			): Promise<{ total: number; letters: StoredDeadLetter[] }> {
				// limit 0 asks for the count alone (gochat stats).
				const [total, letters] = await Promise.all([
					call(ctx, "repo.deadLetters.count", {}),
					ctx.params.limit > 0 ? call(ctx, "repo.deadLetters.list", { limit: ctx.params.limit }) : []
				]);
				return { total, letters };
			}
		},

		/** Sends each letter back to the channel it failed on, then forgets it; letters of other channels stay. */
		replay: {
			visibility: "public",
			retryPolicy: NO_RETRY,
			params: { ids: idsRule },
			async handler(this: FanoutThis, ctx: Context<{ ids?: string[] }>): Promise<number> {
				const replayed: string[] = [];
				try {
					for (const letter of await this.deadLettersAmong(ctx, ctx.params.ids)) {
						if (!REPLAYABLE.has(letter.channel)) {
							this.logger.warn(
								`Dead letter ${letter.id} came from ${letter.channel}, which cannot be replayed; kept`
							);
							continue;
						}
						await this.broker.sendToChannel(letter.channel, letter.payload, channelSendOptions(ctx));
						countFanoutQueued(this.broker);
						replayed.push(letter.id);
					}
				} finally {
					// Forget those sent even when a later send failed, so none is replayed twice.
					if (replayed.length > 0) await call(ctx, "repo.deadLetters.remove", { ids: replayed });
				}
				return replayed.length;
			}
		},

		drop: {
			visibility: "public",
			retryPolicy: NO_RETRY,
			params: { ids: idsRule },
			async handler(this: FanoutThis, ctx: Context<{ ids?: string[] }>): Promise<number> {
				if (ctx.params.ids) return call(ctx, "repo.deadLetters.remove", { ids: ctx.params.ids });
				const ids = (await this.deadLettersAmong(ctx)).map(letter => letter.id);
				return ids.length === 0 ? 0 : call(ctx, "repo.deadLetters.remove", { ids });
			}
		}
	}),

	channels: {
		[FANOUT_MESSAGE_CHANNEL]: {
			group: "task.fanout",
			maxInFlight: 4,
			retry,
			...redelivery,
			handler(this: FanoutThis, ctx: Context<FanoutJob>) {
				return this.track(async () => {
					const { message, exceptSocketId } = ctx.params;
					if (message.conversationId === WORLD_CONVERSATION_ID) {
						// Everyone is in the world room: every gateway pushes to all its sockets, no member list needed.
						const { failedNodes } = await call(ctx, "delivery.toUsers", {
							userIds: [],
							everyone: true,
							event: "message:new",
							payload: { message },
							exceptSocketId
						});
						if (failedNodes > 0) throw new Error(`push failed on ${failedNodes} gateway node(s)`);
						this.counts.messages++;
						this.logger.debug(`Message ${message.id} of world: pushed to every gateway`);
						return;
					}
					let afterUserId: string | undefined;
					let batches = 0;
					for (;;) {
						const members = await call(ctx, "repo.members.list", {
							conversationId: message.conversationId,
							afterUserId,
							limit: FANOUT_BATCH_SIZE
						});
						if (members.length === 0) break;
						const job: BatchJob = { message, userIds: members.map(m => m.userId), exceptSocketId };
						await this.broker.sendToChannel(FANOUT_BATCH_CHANNEL, job, channelSendOptions(ctx));
						countFanoutQueued(this.broker);
						batches++;
						if (members.length < FANOUT_BATCH_SIZE) break;
						afterUserId = members[members.length - 1].userId;
					}
					this.counts.messages++;
					this.logger.debug(
						`Message ${message.id} of ${message.conversationId}: ${batches} fan-out batch(es) queued`
					);
				});
			}
		},

		[FANOUT_BATCH_CHANNEL]: {
			group: "task.fanout",
			maxInFlight: 8,
			retry,
			...redelivery,
			handler(this: FanoutThis, ctx: Context<BatchJob>) {
				return this.track(async () => {
					const { message, userIds, exceptSocketId } = ctx.params;
					const { failedNodes } = await call(ctx, "delivery.toUsers", {
						userIds,
						event: "message:new",
						payload: { message },
						exceptSocketId
					});
					// Retrying pushes the batch again, also to nodes that got it: at least once, clients de-duplicate by ID.
					if (failedNodes > 0) throw new Error(`push failed on ${failedNodes} gateway node(s)`);
					this.counts.batches++;
				});
			}
		},

		/** Kept in SQL; a failure to store it leaves it unacknowledged, so the queue offers it again. */
		[FANOUT_DEAD_LETTER_CHANNEL]: {
			group: "task.fanout",
			async handler(this: FanoutThis, ctx: Context<DeadLetter | FanoutJob>, raw: unknown) {
				// Our retry middleware sends a DeadLetter; the queue itself moves a job as it is, naming its channel in a header.
				let letter: DeadLetter;
				if ("attemptedAt" in ctx.params) letter = ctx.params;
				else {
					const adapter = (
						this.broker as unknown as {
							channelAdapter: { parseMessageHeaders(raw: unknown): Record<string, string> | null };
						}
					).channelAdapter;
					const from = adapter.parseMessageHeaders(raw)?.[ORIGINAL_CHANNEL_HEADER];
					letter = {
						channel: from ? unprefixedChannel(this.broker, from) : "unknown",
						payload: ctx.params,
						error: "delivered too often without being acknowledged",
						attemptedAt: []
					};
				}
				const stored = await call(ctx, "repo.deadLetters.add", {
					channel: letter.channel,
					payload: letter.payload,
					error: letter.error,
					attempts: letter.attemptedAt.length
				});
				this.counts.deadLettered++;
				countFanoutDeadLettered(this.broker);
				const message = (letter.payload as Partial<FanoutJob>)?.message;
				this.logger.error(`Dead letter ${stored.id} from ${letter.channel}: ${letter.error}`, {
					messageId: message?.id,
					conversationId: message?.conversationId
				});
				ctx.emit(FANOUT_DEAD_LETTERED_EVENT, { id: stored.id, ...letter });
			}
		}
	},

	methods: {
		/** The stored dead letters with the given IDs, or all of them. */
		async deadLettersAmong(this: FanoutThis, ctx: Context, ids?: string[]): Promise<StoredDeadLetter[]> {
			const wanted = ids ? new Set(ids) : null;
			const found: StoredDeadLetter[] = [];
			let afterId: string | undefined;
			for (;;) {
				const page = await call(ctx, "repo.deadLetters.list", { limit: DEAD_LETTER_PAGE, afterId });
				found.push(...(wanted ? page.filter(letter => wanted.has(letter.id)) : page));
				if (page.length < DEAD_LETTER_PAGE || (wanted && found.length === wanted.size)) return found;
				afterId = page[page.length - 1].id;
			}
		},

		/** Counts a job as in flight on this node while it is worked on. */
		async track<T>(this: FanoutThis, work: () => Promise<T>): Promise<T> {
			this.counts.inFlight++;
			try {
				return await work();
			} finally {
				this.counts.inFlight--;
			}
		}
	},

	created(this: FanoutThis) {
		this.counts = { messages: 0, batches: 0, deadLettered: 0, inFlight: 0 };
	}
};

export default FanoutService;
