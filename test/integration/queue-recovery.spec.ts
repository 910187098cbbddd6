import type { LoggerInstance } from "moleculer";
import type { Socket } from "socket.io-client";
import { nextDeadLetter } from "../helpers/fanout";
import { startGoChat, RunningGoChat } from "../helpers/gochat";
import { Account, Api, register } from "../helpers/http";
import { PrivateRedis, startPrivateRedis } from "../helpers/redis-server";
import { serverSuite } from "../helpers/servers";
import { closeAll, connect, nextEvent } from "../helpers/sockets";
import { FANOUT_BATCH_CHANNEL, FANOUT_DEAD_LETTER_CHANNEL, FANOUT_MESSAGE_CHANNEL } from "../../lib/contracts/channels";

type NewMessage = { message: { id: string; content: string } };

/** Records what the queue adapter logs at warn and error level, as text. */
function captureQueueLog(gochat: RunningGoChat) {
	const logger = (gochat.broker as unknown as { channelAdapter: { logger: LoggerInstance } }).channelAdapter.logger;
	const text = (args: unknown[]) => args.map(a => (a instanceof Error ? a.message : String(a))).join(" ");
	const lines = { warn: [] as string[], error: [] as string[] };
	const waiters = new Set<() => void>();
	for (const level of ["warn", "error"] as const) {
		jest.spyOn(logger, level).mockImplementation((...args: unknown[]) => {
			lines[level].push(text(args));
			for (const check of [...waiters]) check();
		});
	}
	return {
		warnings: () => [...lines.warn],
		errors: () => [...lines.error],
		clear() {
			lines.warn.length = 0;
			lines.error.length = 0;
		},
		/** Resolves once `count` logged errors match. */
		errorsLogged(matches: (line: string) => boolean, count: number): Promise<void> {
			return new Promise(resolve => {
				const check = () => {
					if (lines.error.filter(matches).length < count) return;
					waiters.delete(check);
					resolve();
				};
				waiters.add(check);
				check();
			});
		}
	};
}

serverSuite("private-redis", "the Redis Streams fan-out queue when Redis loses its data", () => {
	let redis: PrivateRedis;
	let gochat: RunningGoChat;
	let log: ReturnType<typeof captureQueueLog>;
	let sender: Account;
	let reader: Socket;
	const sockets: Socket[] = [];
	let sent = 0;

	function sendWorld(content: string) {
		return sender.api.post("/api/v1/conversations/world/messages", {
			clientMsgId: `r-${++sent}`,
			type: "text",
			content
		});
	}

	/** Sends a world message and resolves when it reaches the reader's socket. */
	async function worldMessage(content: string): Promise<NewMessage> {
		const arrival = nextEvent<NewMessage>(reader, "message:new", e => e.message.content === content);
		expect((await sendWorld(content)).status).toBe(200);
		return arrival;
	}

	/**
	 * Sends a world message every 200 ms until one reaches the reader (10 s at most), then checks
	 * that the first one, sent after the loss, arrives too: only jobs queued before it may be lost.
	 */
	async function deliveredAgain(label: string): Promise<void> {
		const firstArrival = nextEvent<NewMessage>(reader, "message:new", e => e.message.content === `${label} 0`);
		let arrived = false;
		const anyArrival = nextEvent<NewMessage>(reader, "message:new", e =>
			e.message.content.startsWith(`${label} `)
		).then(() => {
			arrived = true;
		});
		const deadline = Date.now() + 10_000;
		let timer: NodeJS.Timeout | undefined;
		for (let i = 0; !arrived; i++) {
			if (Date.now() > deadline) throw new Error(`no world message reached the socket within 10 s ${label}`);
			expect((await sendWorld(`${label} ${i}`)).status).toBe(200);
			await Promise.race([
				anyArrival,
				new Promise(resolve => {
					timer = setTimeout(resolve, 200);
				})
			]);
			clearTimeout(timer);
		}
		const lost = new Promise<string>(resolve => {
			timer = setTimeout(() => resolve("lost"), 5000);
		});
		const first = await Promise.race([firstArrival.then(() => "arrived"), lost]);
		clearTimeout(timer);
		expect(first).toBe("arrived");
	}

	/**
	 * One warning per re-created group: exactly one for the channels the test has used since the
	 * loss, at most one for the others (a loop that was idle notices only when it reads next).
	 */
	function expectRecoveredOnce(...used: string[]) {
		for (const channel of [FANOUT_MESSAGE_CHANNEL, FANOUT_BATCH_CHANNEL, FANOUT_DEAD_LETTER_CHANNEL]) {
			const stream = `${gochat.config.namespace}.${channel}`;
			const warnings = log.warnings().filter(w => w.includes(`'${stream}'`) && /re-created/.test(w));
			if (used.includes(channel)) expect(warnings).toHaveLength(1);
			else expect(warnings.length).toBeLessThanOrEqual(1);
		}
		expect(log.warnings().length).toBeLessThanOrEqual(3);
	}

	beforeAll(async () => {
		redis = await startPrivateRedis();
		// QUEUE_URL explicitly: with TEST_REDIS_URL the harness puts state on the shared Redis, the queue stays here.
		gochat = await startGoChat({ QUEUE_URL: redis.url });
		log = captureQueueLog(gochat);
		const api = new Api(gochat.baseUrl);
		sender = await register(api, "sender");
		const account = await register(api, "reader");
		reader = await connect(gochat.baseUrl, account.accessToken);
		sockets.push(reader);
	});

	afterAll(async () => {
		closeAll(sockets);
		await gochat?.stop();
		await redis?.stop();
	});

	test("world messages reach a socket through the queue", async () => {
		expect((await worldMessage("before any loss")).message.content).toBe("before any loss");
	});

	test("after FLUSHALL the consumer groups are re-created, with one warning each and no error loop", async () => {
		log.clear();
		await redis.admin.flushall();
		await deliveredAgain("after flushall");
		expectRecoveredOnce(FANOUT_MESSAGE_CHANNEL);
		expect(log.errors()).toEqual([]);
	});

	test("after kill -9 and a restart with no data, fan-out and dead-lettering carry on", async () => {
		await worldMessage("before the crash");
		log.clear();
		await redis.kill();
		await redis.start();
		await deliveredAgain("after the restart");

		const dead = nextDeadLetter(gochat.broker);
		// userIds that are no list fail validation in delivery on every attempt.
		await gochat.broker.sendToChannel(FANOUT_BATCH_CHANNEL, {
			message: { id: "1", conversationId: "world" },
			userIds: "nobody"
		});
		expect((await dead).channel).toContain(FANOUT_BATCH_CHANNEL);

		expectRecoveredOnce(FANOUT_MESSAGE_CHANNEL, FANOUT_BATCH_CHANNEL, FANOUT_DEAD_LETTER_CHANNEL);
		// Each connection may report its drop a few times while it reconnects; no more.
		expect(log.errors().length).toBeLessThanOrEqual(20);
	});

	test("a second FLUSHALL is recovered from again, and the queue keeps going", async () => {
		log.clear();
		await redis.admin.flushall();
		await deliveredAgain("after a second flushall");
		expectRecoveredOnce(FANOUT_MESSAGE_CHANNEL);
		expect(log.errors()).toEqual([]);
		expect((await worldMessage("all quiet")).message.content).toBe("all quiet");
	});

	test("while Redis refuses writes (turned replica), reads back off instead of spinning, then resume", async () => {
		log.clear();
		const readErrors = (line: string) => line.startsWith("READONLY");
		const started = Date.now();
		await redis.admin.call("REPLICAOF", "127.0.0.1", "1");
		// Three channels read: 15 failures are 5 in a row of at least one of them, 0 + 100 + 200 + 400 + 800 ms apart.
		await log.errorsLogged(readErrors, 15);
		expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
		await redis.admin.call("REPLICAOF", "NO", "ONE");
		await deliveredAgain("after the failover");
		expect(log.errors().filter(readErrors).length).toBeLessThanOrEqual(30);
		expect(log.errors().length).toBeLessThanOrEqual(50);
		// The groups were never lost.
		expect(log.warnings().filter(w => /re-created/.test(w))).toEqual([]);
	});
});
