import { Adapters } from "@moleculer/channels";
import type { Admin } from "kafkajs";

type Chan = Parameters<InstanceType<typeof Adapters.Kafka>["subscribe"]>[0] & {
	kafka?: { fromBeginning?: boolean };
	deadLettering?: { enabled?: boolean; queueName?: string };
};

/** The lowest session timeout a Kafka broker accepts by default (group.min.session.timeout.ms). */
const MIN_SESSION_TIMEOUT_MS = 6000;

/** The brokers a QUEUE_URL names: kafka://host:9092 or kafka://a:9092,b:9092 → ["host:9092"], ["a:9092", "b:9092"]. */
export function kafkaBrokers(queueUrl: string): string[] {
	const hosts = queueUrl
		.replace(/^kafka:\/\//, "")
		.replace(/\/.*$/, "")
		.split(",");
	if (!queueUrl.startsWith("kafka://") || hosts.some(host => !/^[\w.-]+:\d+$/.test(host))) {
		throw new Error(`QUEUE_URL must be kafka://host:port[,host:port], got "${queueUrl}"`);
	}
	return hosts;
}

/**
 * How long a consumer may go silent before Kafka gives its partitions, and the jobs it had not
 * committed, to another consumer of the group: the nearest thing Kafka has to a per-job
 * redelivery timeout (QUEUE_REDELIVERY_SECONDS), floored at what a broker accepts by default.
 */
export function kafkaSessionTimeoutMs(redeliverySeconds: number): number {
	return Math.max(MIN_SESSION_TIMEOUT_MS, redeliverySeconds * 1000);
}

/**
 * The Kafka adapter of @moleculer/channels 0.1.8 with two changes a durable queue needs:
 * - a consumer group new to a topic starts at its beginning, not its end, so jobs queued before
 *   the first task node ever subscribed (a fresh deployment, a new namespace) are not skipped;
 * - the topics (the channel's and its dead-letter topic) are created before subscribing, with the
 *   broker's default partitions and replication, so the queue works where the broker does not
 *   create topics on first use, and a job published before any consumer exists is kept.
 * Everything else (one offset commit per job, redelivery by republishing with a counter header,
 * dead-lettering) is upstream's.
 */
export class KafkaAdapter extends Adapters.Kafka {
	async subscribe(chan: Chan) {
		chan.kafka = { fromBeginning: true, ...chan.kafka };
		const topics = [chan.name];
		if (chan.deadLettering?.enabled && chan.deadLettering.queueName) {
			topics.push(this.addPrefixTopic(chan.deadLettering.queueName));
		}
		await this.createTopics(topics);
		return super.subscribe(chan);
	}

	/** Creates the topics that do not exist yet; Kafka answers false, not an error, for those that do. */
	private async createTopics(topics: string[]): Promise<void> {
		const client = (this as unknown as { client: { admin(): Admin } }).client;
		const admin = client.admin();
		await admin.connect();
		try {
			await admin.createTopics({ waitForLeaders: true, topics: topics.map(topic => ({ topic })) });
		} finally {
			await admin.disconnect();
		}
	}
}
