import crypto from "crypto";
import { Etcd3 } from "etcd3";
import Redis from "ioredis";
import { startGoChat, RunningGoChat } from "../helpers/gochat";
import { Account, Api, register } from "../helpers/http";
import { serverSuite } from "../helpers/servers";
import { MAX_WORKER_ID, parseSnowflake } from "../../lib/snowflake";
import { leasedWorkerId } from "../../lib/worker-lease";
import { leaseKey as etcdLeaseKey } from "../../lib/worker-lease/etcd-store";
import { leaseKey as redisLeaseKey } from "../../lib/worker-lease/redis-store";

/** What the test does to the lease server behind GoChat's back: read a holder, take IDs, give them back. */
interface LeaseServer {
	holder(workerId: number): Promise<string | null>;
	occupy(workerIds: number[]): Promise<void>;
	free(workerIds: number[]): Promise<void>;
	close(): Promise<void>;
}

const TTL = "3";
const ALL_IDS = Array.from({ length: MAX_WORKER_ID + 1 }, (_, id) => id);

function redisServer(url: string, prefix: string): LeaseServer {
	const redis = new Redis(url, { keyPrefix: prefix });
	return {
		holder: workerId => redis.get(redisLeaseKey(workerId)),
		async occupy(workerIds) {
			const batch = redis.pipeline();
			for (const id of workerIds) batch.set(redisLeaseKey(id), "intruder", "PX", 60_000);
			await batch.exec();
		},
		async free(workerIds) {
			if (workerIds.length > 0) await redis.del(...workerIds.map(redisLeaseKey));
		},
		async close() {
			await redis.quit();
		}
	};
}

function etcdServer(url: string, namespace: string): LeaseServer {
	const client = new Etcd3({ hosts: [url] });
	const keys = client.namespace(`gochat/${namespace}/`);
	return {
		holder: workerId => keys.get(etcdLeaseKey(workerId)).string(),
		async occupy(workerIds) {
			await Promise.all(workerIds.map(id => keys.put(etcdLeaseKey(id)).value("intruder")));
		},
		async free(workerIds) {
			await Promise.all(workerIds.map(id => keys.delete().key(etcdLeaseKey(id))));
		},
		async close() {
			// Leases and minting bounds of every node of the run.
			await keys.delete().all();
			client.close();
		}
	};
}

/** Polls `probe` every 100 ms until it answers something `done` accepts (10 s at most); no event tells. */
async function eventually<T>(probe: () => Promise<T>, done: (value: T) => boolean, what: string): Promise<T> {
	const deadline = Date.now() + 10_000;
	for (;;) {
		const value = await probe();
		if (done(value)) return value;
		if (Date.now() > deadline)
			throw new Error(`${what} did not happen within 10 s; last: ${JSON.stringify(value)}`);
		await new Promise(resolve => setTimeout(resolve, 100));
	}
}

function leaseSuite(
	kind: "redis" | "etcd",
	envFor: (url: string) => Record<string, string>,
	connect: (url: string, node: RunningGoChat) => LeaseServer
) {
	serverSuite(kind, `leased Snowflake worker IDs in ${kind}`, ({ url }) => {
		let env: Record<string, string>;
		const nodes: RunningGoChat[] = [];
		const senders = new Map<RunningGoChat, Account>();
		let server: LeaseServer;
		let sent = 0;

		async function join(): Promise<RunningGoChat> {
			const node = await startGoChat(env, { join: nodes[0] });
			nodes.push(node);
			senders.set(node, await register(new Api(node.baseUrl), `lease${nodes.length}`));
			return node;
		}

		/** Sends a world message through `node`'s gateway, which takes its ID on that node. */
		function send(node: RunningGoChat) {
			return senders.get(node)!.api.post("/api/v1/conversations/world/messages", {
				clientMsgId: `lease-${++sent}`,
				type: "text",
				content: `lease test ${sent}`
			});
		}

		async function workerIdOfNextMessage(node: RunningGoChat): Promise<number> {
			const reply = await send(node);
			expect(reply.status).toBe(200);
			return parseSnowflake(reply.body.message.id).workerId;
		}

		beforeAll(async () => {
			env = { WORKER_LEASE_TTL: TTL, ...envFor(url) };
			const first = await startGoChat(env, { cluster: true });
			nodes.push(first);
			senders.set(first, await register(new Api(first.baseUrl), "lease1"));
			server = connect(url, first);
			await join();
			await join();
		});

		afterAll(async () => {
			// The first node last: its stop drops the run's Redis keys.
			for (const node of nodes.slice(1).reverse()) await node.stop();
			await nodes[0]?.stop();
			await server?.close();
		});

		test("nodes without WORKER_ID lease different worker IDs, and the IDs they create carry them", async () => {
			const workerIds = [];
			for (const node of nodes) {
				const workerId = await workerIdOfNextMessage(node);
				expect(leasedWorkerId(node.broker)).toBe(workerId);
				expect(await server.holder(workerId)).toMatch(new RegExp(`^${node.broker.nodeID}/`));
				workerIds.push(workerId);
			}
			expect(new Set(workerIds).size).toBe(nodes.length);
		});

		test("a node whose ID was taken refuses to create IDs with 503 WORKER_ID_LOST, then resumes under a free ID", async () => {
			const victim = nodes[2];
			const lost = leasedWorkerId(victim.broker)!;
			const others = nodes.slice(0, 2).map(node => leasedWorkerId(node.broker)!);
			// Every ID but the other nodes' is taken, the victim's included: its re-lease finds none.
			const taken = ALL_IDS.filter(id => !others.includes(id));
			await server.occupy(taken);

			const refused = await eventually(
				() => send(victim),
				reply => reply.status !== 200,
				"a refused send"
			);
			expect(refused.status).toBe(503);
			expect(refused.body.error).toMatchObject({ code: "WORKER_ID_LOST", details: { retryAfter: 1 } });
			expect(refused.headers.get("retry-after")).toBe("1");
			expect(leasedWorkerId(victim.broker)).toBeNull();
			// The other nodes still hold theirs and go on.
			for (const node of nodes.slice(0, 2)) expect(others).toContain(await workerIdOfNextMessage(node));

			await server.free(taken.filter(id => id !== lost));
			const resumed = await eventually(
				() => send(victim),
				reply => reply.status === 200,
				"a send after the re-lease"
			);
			const workerId = parseSnowflake(resumed.body.message.id).workerId;
			expect([lost, ...others]).not.toContain(workerId);
			expect(leasedWorkerId(victim.broker)).toBe(workerId);
			await server.free([lost]);
		});

		test("a stopped node releases its ID at once, and the next node can lease it", async () => {
			const leaving = nodes[1];
			const released = leasedWorkerId(leaving.broker)!;
			await leaving.stop();
			nodes.splice(nodes.indexOf(leaving), 1);
			expect(await server.holder(released)).toBeNull();

			const held = nodes.map(node => leasedWorkerId(node.broker)!);
			const taken = ALL_IDS.filter(id => id !== released && !held.includes(id));
			await server.occupy(taken);
			try {
				const next = await join();
				expect(await workerIdOfNextMessage(next)).toBe(released);
			} finally {
				await server.free(taken);
			}
		});
	});
}

const unique = () => crypto.randomBytes(4).toString("hex");

leaseSuite(
	"redis",
	url => ({ REDIS_URL: url, REDIS_PREFIX: `gochat-test-lease-${unique()}:`, DISCOVERER: "" }),
	(url, node) => redisServer(url, node.config.redisPrefix)
);

leaseSuite(
	"etcd",
	url => ({ DISCOVERER: `etcd3://${new URL(url).host}`, REDIS_URL: "", QUEUE_URL: "" }),
	(url, node) => etcdServer(url, node.config.namespace)
);
