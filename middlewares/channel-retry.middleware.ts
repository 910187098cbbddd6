import type { Context, ServiceBroker } from "moleculer";
import { channelSendOptions, unprefixedChannel } from "../lib/channels";
import type { DeadLetter } from "../lib/contracts/channels";
import { countFanoutRetried } from "../lib/metrics";

/** Declared on a channel handler as `retry`: how often to try, how to back off, where failures go. */
export interface ChannelRetryOptions {
	attempts: number;
	baseDelayMs: number;
	maxDelayMs: number;
	deadLetterChannel: string;
}

export function backoffDelay(
	attempt: number,
	{ baseDelayMs, maxDelayMs }: Pick<ChannelRetryOptions, "baseDelayMs" | "maxDelayMs">
): number {
	return Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
}

/**
 * Retries a channel handler that declares `retry`, with exponential backoff, then moves the job
 * to its dead-letter channel. It works the same on every queue adapter (the in-process one has
 * no retries of its own). A job still in backoff when its process dies was never acknowledged,
 * so the queue hands it to another consumer.
 */
export function ChannelRetryMiddleware() {
	let broker: ServiceBroker;
	return {
		name: "ChannelRetry",

		created(b: ServiceBroker) {
			broker = b;
		},

		localChannel(
			next: (ctx: Context, raw: unknown) => Promise<unknown>,
			chan: { name: string; retry?: ChannelRetryOptions }
		) {
			const retry = chan.retry;
			if (!retry) return next;
			return async (ctx: Context, raw: unknown) => {
				const attemptedAt: string[] = [];
				for (let attempt = 1; ; attempt++) {
					attemptedAt.push(new Date().toISOString());
					try {
						return await next(ctx, raw);
					} catch (err) {
						const reason = (err as Error).message;
						if (attempt >= retry.attempts) {
							broker.logger.warn(
								`Channel ${chan.name}: giving up after ${attempt} attempts (${reason}); moved to ${retry.deadLetterChannel}`
							);
							const channel = unprefixedChannel(broker, chan.name);
							const letter: DeadLetter = { channel, payload: ctx.params, error: reason, attemptedAt };
							await broker.sendToChannel(retry.deadLetterChannel, letter, channelSendOptions(ctx));
							return;
						}
						const wait = backoffDelay(attempt, retry);
						countFanoutRetried(broker);
						broker.logger.info(
							`Channel ${chan.name}: attempt ${attempt} failed (${reason}); retrying in ${wait} ms`
						);
						await new Promise(resolve => setTimeout(resolve, wait));
					}
				}
			};
		}
	};
}
