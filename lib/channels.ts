import { Middleware as ChannelsMiddleware } from "@moleculer/channels";
import type { Context, ServiceBroker } from "moleculer";
import type { Config } from "./config";
import { RedisStreamsAdapter } from "./queue/redis-streams-adapter";

declare module "moleculer" {
	interface ServiceBroker {
		/** Publishes to a durable channel (@moleculer/channels). */
		sendToChannel(channelName: string, payload: unknown, opts?: Record<string, unknown>): Promise<void>;
	}
}

/** Streams are capped (approximately) so an idle consumer cannot grow Redis without bound. */
export const STREAM_MAX_LENGTH = "~100000";

/**
 * Options of every sendToChannel: the sender's context goes along (its request ID, meta and
 * trace reach the handler, whose ctx the middleware builds with `context: true`), and Redis
 * streams stay capped. A new object each time: the middleware deletes `ctx` from it.
 */
export function channelSendOptions(ctx: Context): Record<string, unknown> {
	return { ctx, xaddMaxLen: STREAM_MAX_LENGTH };
}

/**
 * A channel's name as sendToChannel takes it. Handlers see the name the middleware prefixed with
 * the namespace ("gochat.fanout.batch"); sending that again would prefix it twice.
 */
export function unprefixedChannel(broker: ServiceBroker, name: string): string {
	const prefix = broker.namespace ? `${broker.namespace}.` : "";
	return prefix && name.startsWith(prefix) ? name.slice(prefix.length) : name;
}

/**
 * The durable-queue middleware: Redis Streams or NATS JetStream from QUEUE_URL (falling back to
 * REDIS_URL), or the in-process Fake adapter when neither is set. Channel names are prefixed with
 * the broker namespace, so clusters (and test runs) sharing a server stay apart.
 */
export function createChannelsMiddleware(config: Pick<Config, "queueUrl" | "queueRedeliverySeconds">) {
	type Options = Parameters<typeof ChannelsMiddleware>[0];
	return ChannelsMiddleware({
		adapter: channelAdapter(config) as unknown as Options["adapter"],
		context: true
	} as Options);
}

function channelAdapter({ queueUrl, queueRedeliverySeconds }: Pick<Config, "queueUrl" | "queueRedeliverySeconds">) {
	if (!queueUrl) return { type: "Fake", options: {} };
	if (queueUrl.startsWith("nats:")) {
		return {
			type: "NATS",
			options: {
				nats: {
					url: queueUrl,
					connectionOptions: {},
					consumerOptions: { config: { ack_wait: queueRedeliverySeconds * 1e9 } }
				}
			}
		};
	}
	// An instance, not { type: "Redis" }: upstream's adapter never re-creates a consumer group Redis lost.
	return new RedisStreamsAdapter({
		redis: {
			url: queueUrl,
			// A message a crashed consumer held is handed to another one after this long.
			consumerOptions: { minIdleTime: queueRedeliverySeconds * 1000, claimInterval: 1000 }
		}
	});
}
