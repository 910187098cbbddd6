import type { Socket } from "socket.io-client";
import type { GatewayStats } from "../../lib/contracts/gateway";
import { startGoChat, RunningGoChat } from "../helpers/gochat";
import { Api, register } from "../helpers/http";
import { closeAll, connect, emitAck, nextEvent } from "../helpers/sockets";

/** Resolves with the reason of the socket's next disconnect. */
const disconnected = (socket: Socket) =>
	new Promise<string>(resolve => socket.once("disconnect", reason => resolve(reason)));

/** What operators call on a gateway node (gochat stats, gochat kick), and that nothing of it is reachable by clients. */
describe("gateway operator actions", () => {
	let gochat: RunningGoChat;
	let api: Api;
	const sockets: Socket[] = [];
	const stats = () => gochat.broker.call<GatewayStats, object>("api.stats", {}, { nodeID: gochat.broker.nodeID });

	/** Waits until the gateway counts `count` sockets (it learns of a closed socket a moment after the client). */
	async function untilSockets(count: number): Promise<GatewayStats> {
		for (;;) {
			const now = await stats();
			if (now.sockets === count) return now;
			await new Promise(resolve => setTimeout(resolve, 20));
		}
	}

	beforeAll(async () => {
		gochat = await startGoChat();
		api = new Api(gochat.baseUrl);
	});
	afterEach(() => closeAll(sockets.splice(0)));
	afterAll(() => gochat.stop());

	test("api.stats counts this node's sockets and users; api.disconnectUser tells each socket of the user why and ends it", async () => {
		const [kim, lou] = [await register(api, "kim"), await register(api, "lou")];
		await kim.api.post("/api/v1/conversations/direct", { userId: lou.user.id });
		const watcher = await connect(gochat.baseUrl, lou.accessToken);
		sockets.push(watcher);
		const online = nextEvent(
			watcher,
			"presence",
			(p: { userId: string; online: boolean }) => p.userId === kim.user.id && p.online
		);
		const kims = [await connect(gochat.baseUrl, kim.accessToken), await connect(gochat.baseUrl, kim.accessToken)];
		sockets.push(...kims);
		await online;
		expect(await untilSockets(3)).toMatchObject({ nodeId: gochat.broker.nodeID, sockets: 3, users: 2 });

		const revoked = kims.map(socket => nextEvent(socket, "auth:revoked"));
		const ended = kims.map(disconnected);
		const offline = nextEvent(
			watcher,
			"presence",
			(p: { userId: string; online: boolean }) => p.userId === kim.user.id && !p.online
		);
		const count = await gochat.broker.call(
			"api.disconnectUser",
			{ userId: kim.user.id, reason: "kicked by an operator" },
			{ nodeID: gochat.broker.nodeID }
		);

		expect(count).toBe(2);
		for (const event of await Promise.all(revoked)) {
			expect(event).toEqual({ code: "TOKEN_REVOKED", message: "Disconnected: kicked by an operator" });
		}
		expect(await Promise.all(ended)).toEqual(["io server disconnect", "io server disconnect"]);
		expect(await offline).toEqual({ userId: kim.user.id, online: false });
		expect(await untilSockets(1)).toMatchObject({ sockets: 1, users: 1 });
		expect(watcher.connected).toBe(true);
		expect(await gochat.broker.call("api.disconnectUser", { userId: kim.user.id, reason: "again" })).toBe(0);
	});

	test("operator and library actions are reachable neither over HTTP nor through a socket", async () => {
		const amy = await register(api, "amy");
		for (const path of [
			"/api/stats",
			"/api/disconnectUser",
			"/api/push",
			"/io/broadcast",
			"/api/v1/api/stats",
			"/api/v1/io/broadcast",
			"/api/addRoute"
		]) {
			expect({ path, status: (await amy.api.post(path, { userId: amy.user.id, reason: "x" })).status }).toEqual({
				path,
				status: 404
			});
			expect({ path, status: (await amy.api.get(path)).status }).toEqual({ path, status: 404 });
		}
		const socket = await connect(gochat.baseUrl, amy.accessToken);
		sockets.push(socket);
		for (const action of ["api.disconnectUser", "api.stats", "io.broadcast", "api.broadcast"]) {
			const ack = await emitAck(socket, "call", { action, params: { userId: amy.user.id, reason: "x" } });
			expect(ack).toMatchObject({ ok: false, error: { code: "ROUTE_NOT_FOUND" } });
		}
		expect(socket.connected).toBe(true);
	});
});
