import type { Socket } from "socket.io-client";
import { startGoChat, RunningGoChat, waitForServiceOn } from "../helpers/gochat";
import { Api, register } from "../helpers/http";
import { until } from "../helpers/wait";
import { closeAll, connect, emitAck, nextEvent } from "../helpers/sockets";

type Stats = { nodeId: string; users: number; sockets: number; pushesReceived: number };

/**
 * Three nodes of one cluster, joined by the real transporter when TRANSPORTER is set (CI uses
 * NATS), Moleculer's in-process one otherwise: A runs every service, B and C only a gateway.
 */
describe("a cluster of gateway nodes", () => {
	let a: RunningGoChat;
	let b: RunningGoChat;
	let c: RunningGoChat;
	const sockets: Socket[] = [];

	const stats = (node: RunningGoChat) =>
		a.broker.call<Stats, object>("api.stats", {}, { nodeID: node.broker.nodeID });

	beforeAll(async () => {
		a = await startGoChat({}, { cluster: true });
		b = await startGoChat({ SERVICES: "gateway" }, { join: a });
		c = await startGoChat({ SERVICES: "gateway" }, { join: a });
		await Promise.all(
			[b, c].map(node => node.broker.waitForServices(["auth", "messages", "repo.presence"], 10000))
		);
		await Promise.all([b, c].map(node => waitForServiceOn(a.broker, "api", node.broker.nodeID)));
	});
	afterAll(async () => {
		closeAll(sockets);
		await c.stop();
		await b.stop();
		await a.stop();
	});

	test("users on different nodes chat both ways, and each push goes only to the node holding the recipient", async () => {
		const api = new Api(a.baseUrl);
		const [xena, yuri] = [await register(api, "xena"), await register(api, "yuri")];
		const id = (await xena.api.post("/api/v1/conversations/direct", { userId: yuri.user.id })).body.conversation.id;
		const onA = await connect(a.baseUrl, xena.accessToken);
		const onB = await connect(b.baseUrl, yuri.accessToken);
		sockets.push(onA, onB);
		// Presence is recorded once the peer's online notice arrives.
		await nextEvent(onA, "presence", (p: { userId: string }) => p.userId === yuri.user.id).catch(() => undefined);

		const [beforeA, beforeB, beforeC] = await Promise.all([stats(a), stats(b), stats(c)]);
		expect([beforeA.users, beforeB.users, beforeC.users]).toEqual([1, 1, 0]);

		const atB = nextEvent(onB, "message:new");
		const sent = await emitAck(onA, "message:send", {
			conversationId: id,
			clientMsgId: "x-1",
			type: "text",
			content: "across nodes"
		});
		expect(sent.ok).toBe(true);
		expect((await atB).message.id).toBe(sent.message.id);

		const atA = nextEvent(onA, "message:new");
		const reply = await emitAck(onB, "message:send", {
			conversationId: id,
			clientMsgId: "y-1",
			type: "text",
			content: "and back"
		});
		expect((await atA).message.id).toBe(reply.message.id);

		// Each message: one push to the recipient's node, one to the sender's node for the sender's other devices.
		// The push to the sender's own node may land after the ack: wait for the counts, then check them exactly.
		let [afterA, afterB, afterC] = [beforeA, beforeB, beforeC];
		await until(async () => {
			[afterA, afterB, afterC] = await Promise.all([stats(a), stats(b), stats(c)]);
			return (
				afterA.pushesReceived - beforeA.pushesReceived >= 2 &&
				afterB.pushesReceived - beforeB.pushesReceived >= 2
			);
		}, "both pushes of each message counted");
		expect(afterB.pushesReceived - beforeB.pushesReceived).toBe(2);
		expect(afterA.pushesReceived - beforeA.pushesReceived).toBe(2);
		expect(afterC.pushesReceived - beforeC.pushesReceived).toBe(0);
	});

	test("a gateway node that vanishes without a goodbye loses its users' presence, and their peers are told", async () => {
		const api = new Api(a.baseUrl);
		const [una, vic] = [await register(api, "una"), await register(api, "vic")];
		await una.api.post("/api/v1/conversations/direct", { userId: vic.user.id });
		const onA = await connect(a.baseUrl, una.accessToken);
		sockets.push(onA);
		// Vic was online on a node that then crashed: only its presence entry is left behind.
		await a.broker.call("repo.presence.connect", { userId: vic.user.id, nodeId: "crashed-node" });
		const offline = nextEvent(
			onA,
			"presence",
			(p: { userId: string; online: boolean }) => p.userId === vic.user.id && !p.online
		);
		a.broker.broadcastLocal("$node.disconnected", { node: { id: "crashed-node" }, unexpected: true });
		expect(await offline).toEqual({ userId: vic.user.id, online: false });
		const located = await a.broker.call<Record<string, string[]>, object>("repo.presence.locate", {
			userIds: [vic.user.id]
		});
		expect(located).toEqual({});
	});

	test("a gateway node that stops takes its users' presence with it", async () => {
		const api = new Api(a.baseUrl);
		const [zoe, walt] = [await register(api, "zoe"), await register(api, "walt")];
		await zoe.api.post("/api/v1/conversations/direct", { userId: walt.user.id });
		const onA = await connect(a.baseUrl, zoe.accessToken);
		sockets.push(onA);
		const online = nextEvent(
			onA,
			"presence",
			(p: { userId: string; online: boolean }) => p.userId === walt.user.id && p.online
		);
		const onC = await connect(c.baseUrl, walt.accessToken);
		await online;
		const located = await a.broker.call<Record<string, string[]>, object>("repo.presence.locate", {
			userIds: [walt.user.id]
		});
		expect(located[walt.user.id]).toEqual([c.broker.nodeID]);

		const offline = nextEvent(
			onA,
			"presence",
			(p: { userId: string; online: boolean }) => p.userId === walt.user.id && !p.online
		);
		onC.close();
		await c.stop();
		expect(await offline).toEqual({ userId: walt.user.id, online: false });
		const after = await a.broker.call<Record<string, string[]>, object>("repo.presence.locate", {
			userIds: [walt.user.id]
		});
		expect(after[walt.user.id]).toBeUndefined();
		c = await startGoChat({ SERVICES: "gateway" }, { join: a });
		await waitForServiceOn(a.broker, "api", c.broker.nodeID);
	});
});
