import type { Context, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { call } from "../../lib/contracts";
import { STREAM_MAX_LENGTH } from "../../lib/channels";
import { WORLD_CONVERSATION_ID } from "../../lib/conversation-id";
import type { Message } from "../../lib/types";
import type { ChannelRetryOptions, DeadLetter } from "../../middlewares/channel-retry.middleware";
import { FANOUT_BATCH_CHANNEL, FANOUT_DEAD_LETTER_CHANNEL, FANOUT_MESSAGE_CHANNEL, FanoutJob } from "../logic/delivery.service";

type FanoutThis = Service & { counts: { messages: number; batches: number; deadLettered: number } };

export interface BatchJob {
	message: Message;
	userIds: string[];
	exceptSocketId?: string;
}

/** Members resolved and pushed per batch (seed 004's large-group path). */
export const FANOUT_BATCH_SIZE = 1000;

const retry: ChannelRetryOptions = { attempts: 5, baseDelayMs: 200, maxDelayMs: 3000, deadLetterChannel: FANOUT_DEAD_LETTER_CHANNEL };
/** A job the queue delivered this often (its consumers kept dying on it) goes to the dead letters as it is. */
const redelivery = { maxRetries: 3, deadLettering: { enabled: true, queueName: FANOUT_DEAD_LETTER_CHANNEL } };

/**
 * Fan-out of large groups and the world room. A message job pages through the members and
 * queues one batch job per 1,000 of them; a batch job finds where those members are online and
 * pushes once per gateway node. Failing jobs back off and retry, then land in the dead-letter
 * channel; a job whose consumer died is delivered again by the queue.
 */
const FanoutService: ServiceSchema<ServiceSettingSchema, FanoutThis> = {
	name: "task.fanout",

	actions: {
		/** Jobs this node finished since it started (REPL: call task.fanout.stats). */
		stats: {
			visibility: "public",
			params: {},
			handler(this: FanoutThis) {
				return { ...this.counts };
			}
		}
	},

	channels: {
		[FANOUT_MESSAGE_CHANNEL]: {
			group: "task.fanout",
			maxInFlight: 4,
			retry,
			...redelivery,
			async handler(this: FanoutThis, ctx: Context<FanoutJob>) {
				const { message, exceptSocketId } = ctx.params;
				if (message.conversationId === WORLD_CONVERSATION_ID) {
					// Everyone is in the world room: every gateway pushes to all its sockets, no member list needed.
					const { failedNodes } = await call(ctx, "delivery.toUsers", { userIds: [], everyone: true, event: "message:new", payload: { message }, exceptSocketId });
					if (failedNodes > 0) throw new Error(`push failed on ${failedNodes} gateway node(s)`);
					this.counts.messages++;
					return;
				}
				let afterUserId: string | undefined;
				let batches = 0;
				for (;;) {
					const userIds = await call(ctx, "repo.conversations.memberIds", {
						conversationId: message.conversationId, afterUserId, limit: FANOUT_BATCH_SIZE
					});
					if (userIds.length === 0) break;
					const job: BatchJob = { message, userIds, exceptSocketId };
					await this.broker.sendToChannel(FANOUT_BATCH_CHANNEL, job, { xaddMaxLen: STREAM_MAX_LENGTH });
					batches++;
					if (userIds.length < FANOUT_BATCH_SIZE) break;
					afterUserId = userIds[userIds.length - 1];
				}
				this.counts.messages++;
				this.logger.debug(`Message ${message.id} of ${message.conversationId}: ${batches} fan-out batch(es) queued`);
			}
		},

		[FANOUT_BATCH_CHANNEL]: {
			group: "task.fanout",
			maxInFlight: 8,
			retry,
			...redelivery,
			async handler(this: FanoutThis, ctx: Context<BatchJob>) {
				const { message, userIds, exceptSocketId } = ctx.params;
				const { failedNodes } = await call(ctx, "delivery.toUsers", { userIds, event: "message:new", payload: { message }, exceptSocketId });
				// Retrying pushes the batch again, also to nodes that got it: at least once, clients de-duplicate by ID.
				if (failedNodes > 0) throw new Error(`push failed on ${failedNodes} gateway node(s)`);
				this.counts.batches++;
			}
		},

		[FANOUT_DEAD_LETTER_CHANNEL]: {
			group: "task.fanout",
			async handler(this: FanoutThis, ctx: Context<DeadLetter | FanoutJob>) {
				// Our retry middleware sends a DeadLetter; the queue itself moves a job as it is.
				const letter: DeadLetter = "attemptedAt" in ctx.params
					? ctx.params
					: { channel: "unknown", payload: ctx.params, error: "delivered too often without being acknowledged", attemptedAt: [] };
				const message = (letter.payload as Partial<FanoutJob>)?.message;
				this.counts.deadLettered++;
				this.logger.error(`Dead letter from ${letter.channel}: ${letter.error}`, { messageId: message?.id, conversationId: message?.conversationId });
				this.broker.emit("fanout.deadLettered", letter);
			}
		}
	},

	created(this: FanoutThis) {
		this.counts = { messages: 0, batches: 0, deadLettered: 0 };
	}
};

export default FanoutService;
