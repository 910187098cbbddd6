import Redis from "ioredis";
import { Kafka, logLevel } from "kafkajs";
import { ServiceBroker } from "moleculer";
import { connect as connectNats } from "nats";
import crypto from "crypto";
import { nextDeadLetter } from "../helpers/fanout";
import { startGoChat, RunningGoChat, waitForServiceOn } from "../helpers/gochat";
import { Api, register } from "../helpers/http";
import { closeAll, connect, nextEvent } from "../helpers/sockets";
import { createChannelsMiddleware } from "../../lib/channels";
import { FANOUT_BATCH_CHANNEL } from "../../lib/contracts/channels";
import { kafkaBrokers } from "../../lib/queue/kafka-adapter";
import { serverSuite } from "../helpers/servers";

/**
 * What every queue adapter must do for GoChat, run against each one the machine has: the
 * configured queue (in-process, or Redis with TEST_REDIS_URL), NATS JetStream, and Kafka when
 * TEST_KAFKA_BROKERS names a broker. `env` selects the queue; `cleanup` removes what the run left
 * on the queue server (its namespace's streams or topics).
 */
function queueContract(env: () => Record<string, string>, cleanup: (namespace: string) => Promise<void>) {
	let gochat: RunningGoChat;

	beforeAll(async () => {
		gochat = await startGoChat(env());
	});
	afterAll(async () => {
		await gochat?.stop();
		if (gochat) await cleanup(gochat.config.namespace);
	});

	test("a world message goes through the queue and reaches an online reader", async () => {
		const api = new Api(gochat.baseUrl);
		const [sender, reader] = [await register(api, "sender"), await register(api, "reader")];
		const socket = await connect(gochat.baseUrl, reader.accessToken);
		try {
			const arrival = nextEvent(
				socket,
				"message:new",
				(e: { message: { content: string } }) => e.message.content === "to the world"
			);
			const sent = await sender.api.post("/api/v1/conversations/world/messages", {
				clientMsgId: "world-1",
				type: "text",
				content: "to the world"
			});
			expect(sent.status).toBe(200);
			expect((await arrival).message).toMatchObject({ id: sent.body.message.id, conversationId: "world" });
		} finally {
			socket.close();
		}
	});

	test("a failing batch is retried with exponential backoff, then moved to the dead-letter channel", async () => {
		const dead = nextDeadLetter(gochat.broker);
		const before = (await gochat.broker.call<{ deadLettered: number }>("task.fanout.stats")).deadLettered;
		// userIds that are no list fail validation in delivery on every attempt.
		await gochat.broker.sendToChannel(FANOUT_BATCH_CHANNEL, {
			message: { id: "1", conversationId: "world" },
			userIds: "nobody"
		});
		const letter = await dead;
		expect(letter.channel).toContain(FANOUT_BATCH_CHANNEL);
		expect(letter.payload).toEqual({ message: { id: "1", conversationId: "world" }, userIds: "nobody" });
		expect(letter.error).toMatch(/validation/i);
		const times = letter.attemptedAt.map(t => Date.parse(t));
		expect(times).toHaveLength(5);
		const gaps = times.slice(1).map((t, i) => t - times[i]);
		[200, 400, 800, 1600].forEach((least, i) => expect(gaps[i]).toBeGreaterThanOrEqual(least));
		const after = (await gochat.broker.call<{ deadLettered: number }>("task.fanout.stats")).deadLettered;
		expect(after - before).toBe(1);
	});
}

describe("the fan-out queue (as configured)", () => {
	queueContract(
		() => ({}),
		async () => undefined
	);
});

/** Deletes the JetStream streams of a namespace (the adapter names them <channel> with "." as "_"). */
async function dropJetStreams(natsUrl: string, namespace: string): Promise<void> {
	const nc = await connectNats({ servers: natsUrl });
	try {
		const jsm = await nc.jetstreamManager();
		for (const stream of await jsm.streams.list().next()) {
			if (stream.config.name.startsWith(`${namespace}_`)) await jsm.streams.delete(stream.config.name);
		}
	} finally {
		await nc.close();
	}
}

/** Resolves once the broker's queue adapter starts unsubscribing a channel (its consumer is stopping). */
function channelUnsubscribing(broker: ServiceBroker): Promise<void> {
	const adapter = (broker as unknown as { channelAdapter: { unsubscribe(chan: unknown): Promise<void> } })
		.channelAdapter;
	const unsubscribe = adapter.unsubscribe.bind(adapter);
	return new Promise(resolve => {
		adapter.unsubscribe = chan => {
			const done = unsubscribe(chan);
			resolve();
			return done;
		};
	});
}

serverSuite("nats", "the fan-out queue on NATS JetStream", server => {
	queueContract(
		() => ({ QUEUE_URL: server.url }),
		namespace => dropJetStreams(server.url, namespace)
	);

	test("a job delivered to a consumer that is stopping is handed back at once, not after the redelivery timeout", async () => {
		const namespace = `test-${crypto.randomBytes(4).toString("hex")}`;
		// 30 s before JetStream would deliver an unacknowledged job again by itself.
		const queue = { queueUrl: server.url, queueRedeliverySeconds: 30 };
		let releaseFirst!: () => void;
		const firstHeld = new Promise<void>(resolve => (releaseFirst = resolve));
		let signalFirstStarted!: () => void;
		const firstStarted = new Promise<void>(resolve => (signalFirstStarted = resolve));
		const received: Array<{ node: string; job: string }> = [];
		const arrived = new Map<string, () => void>();
		const brokerFor = (nodeID: string) => {
			const broker = new ServiceBroker({
				nodeID,
				namespace,
				logger: false,
				middlewares: [createChannelsMiddleware(queue)] as unknown as ServiceBroker["options"]["middlewares"]
			});
			broker.createService({
				name: "handback",
				channels: {
					"handback.jobs": async (ctx: { params: { job: string } }) => {
						const payload = ctx.params;
						received.push({ node: nodeID, job: payload.job });
						if (payload.job === "first") {
							signalFirstStarted();
							await firstHeld;
						}
						arrived.get(payload.job)?.();
					}
				}
			} as never);
			return broker;
		};
		const stopping = brokerFor("stopping-node");
		const staying = brokerFor("staying-node");
		try {
			await stopping.start();
			await stopping.sendToChannel("handback.jobs", { job: "first" });
			await firstStarted;
			// One job in flight at a time (max_ack_pending 1): the second waits for the first.
			await stopping.sendToChannel("handback.jobs", { job: "second" });
			// The first job finishes only once its consumer is stopping: the second is then delivered to a stopping consumer.
			const unsubscribing = channelUnsubscribing(stopping);
			const stopped = stopping.stop();
			await unsubscribing;
			releaseFirst();
			await stopped;
			const second = new Promise<void>(resolve => arrived.set("second", resolve));
			const started = Date.now();
			await staying.start();
			await second;
			expect(Date.now() - started).toBeLessThan(10_000);
			expect(received.filter(r => r.job === "second").at(-1)).toEqual({ node: "staying-node", job: "second" });
			expect(received.filter(r => r.job === "first")).toEqual([{ node: "stopping-node", job: "first" }]);
		} finally {
			await stopping.stop().catch(() => undefined);
			await staying.stop();
			await dropJetStreams(server.url, namespace);
		}
	}, 30_000);
});

serverSuite("kafka", "the fan-out queue on Kafka", server => {
	const queueUrl = `kafka://${server.url}`;
	queueContract(
		() => ({ QUEUE_URL: queueUrl }),
		async namespace => {
			const admin = new Kafka({ brokers: kafkaBrokers(queueUrl), logLevel: logLevel.NOTHING }).admin();
			await admin.connect();
			try {
				const topics = (await admin.listTopics()).filter(topic => topic.startsWith(`${namespace}.`));
				if (topics.length > 0) await admin.deleteTopics({ topics });
			} finally {
				await admin.disconnect();
			}
		}
	);
});

serverSuite("redis", "the fan-out queue on Redis Streams", server => {
	test("a batch whose consumer died mid-way is delivered again to another one", async () => {
		const redisUrl = server.url;
		// The first node has no task service: the batch is taken by a consumer that then "dies".
		const front = await startGoChat({ SERVICES: "gateway,logic,repo", QUEUE_URL: redisUrl }, { cluster: true });
		// No reconnecting: a lost connection fails the test instead of keeping Jest alive.
		const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, retryStrategy: () => null });
		const sockets = [];
		let worker: RunningGoChat | undefined;
		try {
			const api = new Api(front.baseUrl);
			const [sender, reader] = [await register(api, "sender"), await register(api, "reader")];
			const socket = await connect(front.baseUrl, reader.accessToken);
			sockets.push(socket);
			const history = await sender.api.post("/api/v1/conversations/world/messages", {
				clientMsgId: "w-1",
				type: "text",
				content: "lost in a crash?"
			});
			const message = history.body.message;

			const stream = `${front.config.namespace}.${FANOUT_BATCH_CHANNEL}`;
			await redis.xgroup("CREATE", stream, "task.fanout", "$", "MKSTREAM");
			await redis.xadd(stream, "*", "payload", JSON.stringify({ message, userIds: [reader.user.id] }));
			const taken = await redis.xreadgroup(
				"GROUP",
				"task.fanout",
				"crashed-consumer",
				"COUNT",
				1,
				"STREAMS",
				stream,
				">"
			);
			expect(taken).not.toBeNull();

			const arrival = nextEvent(
				socket,
				"message:new",
				(e: { message: { id: string; content: string } }) => e.message.id === message.id
			);
			worker = await startGoChat(
				{ SERVICES: "task", QUEUE_URL: redisUrl, QUEUE_REDELIVERY_SECONDS: "1" },
				{ join: front }
			);
			await waitForServiceOn(front.broker, "task.fanout", worker.broker.nodeID);
			expect((await arrival).message.content).toBe("lost in a crash?");
		} finally {
			closeAll(sockets);
			await worker?.stop();
			await front.stop();
			redis.quit();
		}
	});
});
