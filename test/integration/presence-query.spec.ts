import type { Socket } from "socket.io-client";
import { PRESENCE_QUERY_MAX_USERS } from "../../lib/contracts/client";
import { startGoChat, RunningGoChat } from "../helpers/gochat";
import { Account, Api, register } from "../helpers/http";
import { closeAll, connect, nextEvent } from "../helpers/sockets";

type PresenceEvent = { userId: string; online: boolean };

describe("GET /presence: who of your 1:1 peers is online now", () => {
	let gochat: RunningGoChat;
	let api: Api;
	const sockets: Socket[] = [];

	const open = async (account: Account) => {
		const socket = await connect(gochat.baseUrl, account.accessToken);
		sockets.push(socket);
		return socket;
	};
	const query = (account: Account, userIds: string) =>
		account.api.get(`/api/v1/presence?userIds=${encodeURIComponent(userIds)}`);
	const presenceOf = (socket: Socket, userId: string, online: boolean) =>
		nextEvent<PresenceEvent>(socket, "presence", e => e.userId === userId && e.online === online);

	beforeAll(async () => {
		gochat = await startGoChat();
		api = new Api(gochat.baseUrl);
	});
	afterEach(() => closeAll(sockets.splice(0)));
	afterAll(() => gochat.stop());

	test("a peer connected before you asked shows online, goes offline when its last socket closes, and a stranger is null", async () => {
		const [alice, bob, carol] = [
			await register(api, "alice"),
			await register(api, "bob"),
			await register(api, "carol")
		];
		await alice.api.post("/api/v1/conversations/direct", { userId: bob.user.id });
		const watcher = await open(alice);

		const bobOnline = presenceOf(watcher, bob.user.id, true);
		const bobSocket = await open(bob);
		await bobOnline;
		// Carol is online too, but shares no 1:1 with alice: her presence is not alice's to see.
		await open(carol);
		const ids = `${bob.user.id},${carol.user.id},${bob.user.id}`;
		const online = await query(alice, ids);
		expect(online.status).toBe(200);
		expect(online.body.presence).toEqual([
			{ userId: bob.user.id, online: true },
			{ userId: carol.user.id, online: null }
		]);

		const bobOffline = presenceOf(watcher, bob.user.id, false);
		bobSocket.close();
		await bobOffline;
		expect((await query(alice, bob.user.id)).body.presence).toEqual([{ userId: bob.user.id, online: false }]);
	});

	test("bad lists are refused with 400 INVALID_INPUT, and the route needs a token", async () => {
		const alice = await register(api, "alice");
		const tooMany = Array.from({ length: PRESENCE_QUERY_MAX_USERS + 1 }, (_, i) => String(i + 1)).join(",");
		for (const userIds of ["", "abc", "1,,2", "-1", "1;2", tooMany]) {
			const reply = await query(alice, userIds);
			expect({ userIds: userIds.slice(0, 20), status: reply.status, code: reply.body.error?.code }).toEqual({
				userIds: userIds.slice(0, 20),
				status: 400,
				code: "INVALID_INPUT"
			});
		}
		expect((await api.get(`/api/v1/presence?userIds=${alice.user.id}`)).status).toBe(401);
	});
});
