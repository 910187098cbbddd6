import Redis from "ioredis";
import { nextDeadLetter } from "../helpers/fanout";
import { startGoChat, RunningGoChat, waitForServiceOn } from "../helpers/gochat";
import { Api, register } from "../helpers/http";
import { closeAll, connect, nextEvent } from "../helpers/sockets";
import { FANOUT_BATCH_CHANNEL } from "../../lib/contracts/channels";
import { serverSuite } from "../helpers/servers";

describe("the fan-out queue", () => {
	test("a failing batch is retried with exponential backoff, then moved to the dead-letter channel", async () => {
		const gochat = await startGoChat();
		try {
			const dead = nextDeadLetter(gochat.broker);
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
			expect((await gochat.broker.call<{ deadLettered: number }>("task.fanout.stats")).deadLettered).toBe(1);
		} finally {
			await gochat.stop();
		}
	});
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
