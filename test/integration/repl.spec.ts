import type { Socket } from "socket.io-client";
import { runGochat } from "../../lib/repl";
import type { Message } from "../../lib/types";
import { clusterStats } from "../../lib/repl/stats";
import { tailConversation } from "../../lib/repl/conversations";
import { kickUser, whereOnline } from "../../lib/repl/users";
import { RunningGoChat, startGoChat } from "../helpers/gochat";
import { Account, Api, register } from "../helpers/http";
import { closeAll, connect, nextEvent } from "../helpers/sockets";
import { until } from "../helpers/wait";

/** The operators' commands against a running GoChat, seen by a real Socket.IO client. */
describe("gochat REPL commands", () => {
	let gochat: RunningGoChat;
	let api: Api;
	const sockets: Socket[] = [];

	beforeAll(async () => {
		gochat = await startGoChat();
		api = new Api(gochat.baseUrl);
	});

	afterAll(async () => {
		closeAll(sockets);
		await gochat?.stop();
	});

	async function online(name: string): Promise<{ account: Account; socket: Socket }> {
		const account = await register(api, name);
		const socket = await connect(gochat.baseUrl, account.accessToken);
		sockets.push(socket);
		return { account, socket };
	}

	async function directConversation(a: Account, b: Account): Promise<string> {
		const res = await a.api.post("/api/v1/conversations/direct", { userId: b.user.id });
		if (res.status !== 200 && res.status !== 201)
			throw new Error(`openDirect: ${res.status} ${JSON.stringify(res.body)}`);
		return res.body.conversation.id;
	}

	test("stats shows this node's sockets and users", async () => {
		await online("stats");
		const stats = await clusterStats(gochat.broker);
		expect(stats.gateways).toEqual([
			{ nodeId: gochat.broker.nodeID, result: expect.objectContaining({ sockets: 1, users: 1 }) }
		]);
		expect(stats.senders.map(s => s.nodeId)).toEqual([gochat.broker.nodeID]);
		expect(stats.deadLetters).toEqual({ total: 0 });
	});

	test("online names the node holding the user's socket", async () => {
		const { account } = await online("where");
		// The gateway reports the connect to presence after the handshake: poll, there is no event for an observer.
		let nodes: string[] = [];
		await until(
			async () => (nodes = await whereOnline(gochat.broker, account.user.id)).length > 0,
			"the user to be online"
		);
		expect(nodes).toEqual([gochat.broker.nodeID]);
	});

	test("say is received by the members' sockets like any message, and tail shows it last", async () => {
		const { account: alice, socket } = await online("alice");
		const bob = await register(api, "bob");
		const conversationId = await directConversation(alice, bob);
		const pushed = nextEvent(
			socket,
			"message:new",
			(p: { message: Message }) => p.message.conversationId === conversationId
		);
		const out = await runGochat(gochat.broker, ["say", conversationId, "maintenance", "at", "noon"]);
		expect(out[0]).toMatch(/^Sent message \d+/);
		expect((await pushed).message).toMatchObject({ conversationId, content: "maintenance at noon" });
		const tail = await tailConversation(gochat.broker, conversationId, 5);
		expect(tail[tail.length - 1]).toMatchObject({ content: "maintenance at noon" });
	});

	test("kick disconnects the user's sockets and their refresh token stops working", async () => {
		const { account, socket } = await online("kicked");
		const disconnected = new Promise(resolve => socket.once("disconnect", resolve));
		const report = await kickUser(gochat.broker, account.user.id);
		expect(report.sessionsRevoked).toBeGreaterThanOrEqual(1);
		expect(report.sockets).toEqual([{ nodeId: gochat.broker.nodeID, result: 1 }]);
		await disconnected;
		const refresh = await api.post("/api/v1/auth/refresh", { refreshToken: account.refreshToken });
		expect(refresh.status).toBe(401);
	});
});
