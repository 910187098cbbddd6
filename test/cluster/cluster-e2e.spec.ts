import crypto from "crypto";
import type { Socket } from "socket.io-client";
import { dropEtcdKeys, dropRedisKeys, mariadbDatabase, TestDatabase } from "../helpers/gochat";
import { Api, register } from "../helpers/http";
import {
	childEnv,
	ensureBuild,
	exitOf,
	freePort,
	GoChatProcess,
	processAlive,
	startProcess
} from "../helpers/processes";
import { serverSuite, Server } from "../helpers/servers";
import { closeAll, connect, emitAck, nextEvent } from "../helpers/sockets";

type NewMessage = { message: { id: string; conversationId: string; content: string } };

/**
 * `npm run cluster` as an operator runs it (node dist/scripts/cluster/index.js): two gateways and
 * logic, repo, task in five processes over the transporter CI names (NATS with etcd discovery, or
 * the Redis transporter alone), driven through both gateways' HTTP ports and Socket.IO.
 */
function clusterSuite(servers: { database: Server; redis: Server }) {
	const transporter = process.env.TRANSPORTER ?? process.env.TEST_NATS_URL ?? "nats://127.0.0.1:4222";
	const discoverer = process.env.DISCOVERER || "none";
	const namespace = `e2e-${crypto.randomBytes(4).toString("hex")}`;
	const redisPrefix = `gochat-${namespace}:`;
	let database: TestDatabase;
	let cluster: GoChatProcess;
	let gateways: [Api, Api];
	let urls: [string, string];
	const sockets: Socket[] = [];

	beforeAll(async () => {
		ensureBuild();
		database = await mariadbDatabase(servers.database.url);
		const ports = [await freePort(), await freePort()];
		urls = [`http://127.0.0.1:${ports[0]}`, `http://127.0.0.1:${ports[1]}`];
		gateways = [new Api(urls[0]), new Api(urls[1])];
		cluster = startProcess(
			[
				"dist/scripts/cluster/index.js",
				"--ports",
				ports.join(","),
				"--health-port",
				"0",
				"--namespace",
				namespace,
				"--transporter",
				transporter,
				"--discoverer",
				discoverer,
				"--database",
				database.url,
				"--redis",
				servers.redis.url
			],
			childEnv({
				REDIS_PREFIX: redisPrefix,
				SIGNUP_RATE: "off",
				LOGIN_RATE: "off",
				SEND_RATE_SOCKET: "off",
				SEND_RATE_USER: "off"
			})
		);
		await cluster.waitFor(/^cluster ready/, { timeoutMs: 90_000 });
	}, 120_000);

	afterAll(async () => {
		closeAll(sockets);
		if (cluster && cluster.child.exitCode === null) await cluster.stop(30_000);
		await database?.drop();
		await dropRedisKeys(servers.redis.url, [`${redisPrefix}*`, `${namespace}.*`]);
		// With etcd discovery the processes leased their worker IDs there; the minting bounds have no TTL.
		if (discoverer !== "none") await dropEtcdKeys(discoverer, namespace);
	}, 60_000);

	test("a user registered on one gateway logs in on the other", async () => {
		const ann = await register(gateways[0], "ann");
		const login = await gateways[1].post("/api/v1/auth/login", {
			username: ann.user.username,
			password: "correct horse"
		});
		expect(login.status).toBe(200);
		expect(login.body.user.id).toBe(ann.user.id);
	});

	test("1:1 messages cross gateways both ways, and history reads the same from either", async () => {
		const [ben, cai] = [await register(gateways[0], "ben"), await register(gateways[1], "cai")];
		const direct = await ben.api.post("/api/v1/conversations/direct", { userId: cai.user.id });
		expect(direct.status).toBeLessThan(300);
		const conversationId = direct.body.conversation.id;
		const onFirst = await connect(urls[0], ben.accessToken);
		const onSecond = await connect(urls[1], cai.accessToken);
		sockets.push(onFirst, onSecond);

		const atSecond = nextEvent<NewMessage>(onSecond, "message:new", e => e.message.content === "from gateway 1");
		const sent = await emitAck(onFirst, "message:send", {
			conversationId,
			clientMsgId: "e2e-1",
			type: "text",
			content: "from gateway 1"
		});
		expect(sent.ok).toBe(true);
		expect((await atSecond).message.id).toBe(sent.message.id);

		const atFirst = nextEvent<NewMessage>(onFirst, "message:new", e => e.message.content === "from gateway 2");
		const reply = await emitAck(onSecond, "message:send", {
			conversationId,
			clientMsgId: "e2e-2",
			type: "text",
			content: "from gateway 2"
		});
		expect((await atFirst).message.id).toBe(reply.message.id);

		for (const api of [gateways[0].as(ben.accessToken), gateways[1].as(ben.accessToken)]) {
			const history = await api.get(`/api/v1/conversations/${conversationId}/messages?limit=10`);
			expect(history.status).toBe(200);
			expect(history.body.messages.map((m: { content: string }) => m.content)).toEqual([
				"from gateway 1",
				"from gateway 2"
			]);
		}
	});

	test("a group message reaches members on both gateways", async () => {
		const [owner, dee, eli] = [
			await register(gateways[0], "owner"),
			await register(gateways[0], "dee"),
			await register(gateways[1], "eli")
		];
		const group = await owner.api.post("/api/v1/groups", { name: "e2e", memberIds: [dee.user.id, eli.user.id] });
		expect(group.status).toBeLessThan(300);
		const conversationId = group.body.group.conversationId;
		const [ownerSocket, deeSocket, eliSocket] = [
			await connect(urls[1], owner.accessToken),
			await connect(urls[0], dee.accessToken),
			await connect(urls[1], eli.accessToken)
		];
		sockets.push(ownerSocket, deeSocket, eliSocket);
		const arrivals = [deeSocket, eliSocket].map(s =>
			nextEvent<NewMessage>(s, "message:new", e => e.message.content === "hello group")
		);
		const sent = await emitAck(ownerSocket, "message:send", {
			conversationId,
			clientMsgId: "g-1",
			type: "text",
			content: "hello group"
		});
		expect(sent.ok).toBe(true);
		for (const arrival of await Promise.all(arrivals)) expect(arrival.message.id).toBe(sent.message.id);
	});

	test("a world message goes through the task queue and reaches sockets on both gateways", async () => {
		const [fay, gus, hal] = await Promise.all([
			register(gateways[0], "fay"),
			register(gateways[0], "gus"),
			register(gateways[1], "hal")
		]);
		const [gusSocket, halSocket] = [
			await connect(urls[0], gus.accessToken),
			await connect(urls[1], hal.accessToken)
		];
		sockets.push(gusSocket, halSocket);
		const content = `to everyone ${namespace}`;
		const arrivals = [gusSocket, halSocket].map(s =>
			nextEvent<NewMessage>(s, "message:new", e => e.message.content === content)
		);
		const sent = await fay.api.post("/api/v1/conversations/world/messages", {
			clientMsgId: "w-1",
			type: "text",
			content
		});
		expect(sent.status).toBe(200);
		for (const arrival of await Promise.all(arrivals)) {
			expect(arrival.message).toMatchObject({ id: sent.body.message.id, conversationId: "world" });
		}
	});

	test("Ctrl-C stops every process cleanly: exit code 0 and no process left", async () => {
		closeAll(sockets);
		const pids = [...cluster.output().matchAll(/pid (\d+)/g)].map(match => Number(match[1]));
		expect(new Set(pids).size).toBe(5);
		const from = cluster.output().length;
		cluster.child.kill("SIGINT");
		const code = await exitOf(cluster.child, 30_000);
		expect(code).toBe(0);
		expect(cluster.output().slice(from)).toMatch(/^cluster stopped$/m);
		for (const name of ["gateway-1", "gateway-2", "logic", "repo", "task"]) {
			expect(cluster.output().slice(from)).toMatch(new RegExp(`^${name}\\s+stopped .* exit 0$`, "m"));
		}
		expect(pids.filter(processAlive)).toEqual([]);
	}, 60_000);
}

const usesNats = !(process.env.TRANSPORTER ?? "").startsWith("redis");
serverSuite("mariadb", "npm run cluster: five processes, two gateways", database =>
	serverSuite("redis", "with Redis", redis => {
		const run = () => clusterSuite({ database, redis });
		const withEtcd = () => (process.env.DISCOVERER ? serverSuite("etcd", "with etcd discovery", run) : run());
		if (usesNats) serverSuite("nats", "over NATS", withEtcd);
		else withEtcd();
	})
);
