import { Adapters, Middleware as ChannelsMiddleware } from "@moleculer/channels";
import type { Context, ServiceBroker } from "moleculer";
import type { JsMsg, NatsError } from "nats";
import type { Config } from "./config";
import { KafkaAdapter, kafkaBrokers, kafkaSessionTimeoutMs } from "./queue/kafka-adapter";
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
 * The durable-queue middleware: Redis Streams, NATS JetStream or Kafka from QUEUE_URL (falling
 * back to REDIS_URL), or the in-process Fake adapter when neither is set. Channel names (Kafka
 * topics) are prefixed with the broker namespace, so clusters (and test runs) sharing a server
 * stay apart.
 */
export function createChannelsMiddleware(config: Pick<Config, "queueUrl" | "queueRedeliverySeconds">) {
	type Options = Parameters<typeof ChannelsMiddleware>[0];
	return ChannelsMiddleware({
		adapter: channelAdapter(config) as unknown as Options["adapter"],
		context: true
	} as Options);
}

type NatsChan = Parameters<InstanceType<typeof Adapters.NATS>["createConsumerHandler"]>[0] & {
	unsubscribing?: boolean;
};

/** How long JetStream holds back a job a stopping consumer handed back, so a live one takes it. */
const HAND_BACK_DELAY_MS = 100;

/**
 * The JetStream adapter of @moleculer/channels 0.1.8, except that a job delivered to a consumer
 * that is stopping is handed back (nak) at once. Upstream ignores it, and JetStream delivers it
 * again only when QUEUE_REDELIVERY_SECONDS (ack_wait) run out: every stop would delay a job.
 */
export class JetStreamAdapter extends Adapters.NATS {
	createConsumerHandler(chan: NatsChan) {
		const handle = super.createConsumerHandler(chan);
		return async (err: NatsError, message: JsMsg) => {
			if (chan.unsubscribing && message) {
				message.nak(HAND_BACK_DELAY_MS);
				return;
			}
			return handle(err, message);
		};
	}
}

function channelAdapter({ queueUrl, queueRedeliverySeconds }: Pick<Config, "queueUrl" | "queueRedeliverySeconds">) {
	if (!queueUrl) return { type: "Fake", options: {} };
	if (queueUrl.startsWith("nats:")) {
		return new JetStreamAdapter({
			nats: {
				url: queueUrl,
				connectionOptions: {},
				consumerOptions: { config: { ack_wait: queueRedeliverySeconds * 1e9 } }
			}
		} as ConstructorParameters<typeof Adapters.NATS>[0]);
	}
	if (queueUrl.startsWith("kafka:")) {
		const sessionTimeout = kafkaSessionTimeoutMs(queueRedeliverySeconds);
		// The client ID is the node ID (the adapter's consumer name); topics carry the namespace.
		return new KafkaAdapter({
			kafka: {
				brokers: kafkaBrokers(queueUrl),
				// A consumer silent this long loses its partitions; the jobs it had not committed go to another one.
				consumerOptions: { sessionTimeout, heartbeatInterval: Math.floor(sessionTimeout / 10) }
			}
		} as unknown as ConstructorParameters<typeof Adapters.Kafka>[0]);
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
