import jwt from "jsonwebtoken";
import { io, Socket } from "socket.io-client";
import { startGoChat, RunningGoChat } from "../helpers/gochat";
import { Account, Api, register } from "../helpers/http";
import { closeAll, connect, emitAck, nextEvent } from "../helpers/sockets";

type Stats = { sockets: number };
type ServerSocket = { data: { expiresAt?: number | null } };

/** Resolves with the reason of the socket's next disconnect. */
const disconnected = (socket: Socket) =>
	new Promise<string>(resolve => socket.once("disconnect", reason => resolve(reason)));

/** A connection attempt's outcome: the socket, or the refusal's data. */
function attempt(
	baseUrl: string,
	token: string,
	localAddress?: string
): Promise<{ socket?: Socket; refused?: { code: string; message: string } }> {
	const socket = io(baseUrl, {
		auth: { token },
		transports: ["websocket"],
		reconnection: false,
		forceNew: true,
		...(localAddress ? { localAddress } : {})
	});
	return new Promise(resolve => {
		socket.once("connect", () => resolve({ socket }));
		socket.once("connect_error", err => {
			socket.close();
			resolve({ refused: (err as Error & { data: { code: string; message: string } }).data });
		});
	});
}

/** Waits until the gateway counts `count` sockets (it learns of a closed socket a moment after the client). */
async function untilSockets(gochat: RunningGoChat, count: number): Promise<void> {
	for (;;) {
		const stats = await gochat.broker.call<Stats, object>("api.stats", {});
		if (stats.sockets === count) return;
		await new Promise(resolve => setTimeout(resolve, 20));
	}
}

describe("socket tokens: auth:refresh and auth:expired", () => {
	let gochat: RunningGoChat;
	let api: Api;
	const sockets: Socket[] = [];
	const open = async (token: string) => {
		const socket = await connect(gochat.baseUrl, token);
		sockets.push(socket);
		return socket;
	};
	/** An access token of `account`'s session (or another one), valid for `ttl` seconds, signed as auth signs them. */
	const tokenFor = (
		account: Account,
		ttl: number,
		sessionId = (jwt.decode(account.accessToken) as { sid: string }).sid
	) =>
		jwt.sign({ sid: sessionId }, gochat.config.jwtSecret, {
			algorithm: "HS256",
			subject: account.user.id,
			expiresIn: ttl
		});

	beforeAll(async () => {
		gochat = await startGoChat({ ACCESS_TOKEN_TTL: "10" });
		api = new Api(gochat.baseUrl);
	});
	afterEach(() => closeAll(sockets.splice(0)));
	afterAll(() => gochat.stop());

	test("a token of another user, a bad token or no token is refused; the socket keeps its own", async () => {
		const [amy, ben] = [await register(api, "amy"), await register(api, "ben")];
		const socket = await open(amy.accessToken);
		expect(await emitAck(socket, "auth:refresh", { token: ben.accessToken })).toEqual({
			ok: false,
			error: { code: "FORBIDDEN", message: "The token belongs to another user" }
		});
		expect(await emitAck(socket, "auth:refresh", { token: "garbage" })).toMatchObject({
			ok: false,
			error: { code: "TOKEN_INVALID" }
		});
		expect(await emitAck(socket, "auth:refresh", {})).toMatchObject({
			ok: false,
			error: { code: "INVALID_INPUT" }
		});
		const expired = jwt.sign({ sid: "x", exp: Math.floor(Date.now() / 1000) - 5 }, gochat.config.jwtSecret, {
			subject: amy.user.id
		});
		expect(await emitAck(socket, "auth:refresh", { token: expired })).toMatchObject({
			ok: false,
			error: { code: "TOKEN_EXPIRED" }
		});
		expect((await emitAck(socket, "sync", {})).ok).toBe(true);
	});

	test("a refresh with another login's token moves the socket to that session: its logout ends the socket, the old one's does not", async () => {
		const cleo = await register(api, "cleo");
		const secondLogin = await api.post("/api/v1/auth/login", {
			username: cleo.user.username,
			password: "correct horse"
		});
		const moving = await open(cleo.accessToken);
		const staying = await open(cleo.accessToken);
		expect(await emitAck(moving, "auth:refresh", { token: secondLogin.body.accessToken })).toMatchObject({
			ok: true,
			expiresAt: expect.any(String)
		});

		const stayingGone = disconnected(staying);
		expect((await cleo.api.post("/api/v1/auth/logout")).status).toBe(200);
		expect(await stayingGone).toBe("io server disconnect");
		expect((await emitAck(moving, "sync", {})).ok).toBe(true);

		const movingGone = disconnected(moving);
		expect((await api.as(secondLogin.body.accessToken).post("/api/v1/auth/logout")).status).toBe(200);
		expect(await movingGone).toBe("io server disconnect");
	});

	test("an event that arrives after the token expired is refused with TOKEN_EXPIRED", async () => {
		const dora = await register(api, "dora");
		const socket = await open(dora.accessToken);
		const service = gochat.broker.getLocalService("api") as unknown as {
			io: { of(nsp: string): { sockets: Map<string, ServerSocket> } };
		};
		// The expiry timer would disconnect the socket at that moment; this stands for an event that won the race.
		service.io.of("/").sockets.get(socket.id!)!.data.expiresAt = Date.now() - 1;
		for (const event of ["message:send", "sync", "typing", "auth:refresh", "no-such-event"]) {
			const ack = await emitAck(socket, event, {});
			expect({ event, ack }).toEqual({
				event,
				ack: {
					ok: false,
					error: {
						code: "TOKEN_EXPIRED",
						message: "The access token has expired: refresh it and connect again"
					}
				}
			});
		}
	});

	test("an unrefreshed socket is told auth:expired and disconnected when its token expires; a refreshed one carries on", async () => {
		const [eve, finn] = [await register(api, "eve"), await register(api, "finn")];
		const issuedAt = (jwt.decode(eve.accessToken) as { exp: number }).exp * 1000 - 10_000;
		const conversationId = (await eve.api.post("/api/v1/conversations/direct", { userId: finn.user.id })).body
			.conversation.id;
		const stale = await open(eve.accessToken);
		const refreshed = await open(eve.accessToken);
		const peer = await open(finn.accessToken);
		expect((await emitAck(peer, "auth:refresh", { token: tokenFor(finn, 60) })).ok).toBe(true);
		const told = nextEvent(stale, "auth:expired");
		const gone = disconnected(stale);
		const refreshedEvents: string[] = [];
		refreshed.onAny(event => refreshedEvents.push(event));

		// The client's usual path: POST /auth/refresh, then hand the new access token to the socket.
		const viaRest = await api.post("/api/v1/auth/refresh", { refreshToken: eve.refreshToken });
		const first = await emitAck(refreshed, "auth:refresh", { token: viaRest.body.accessToken });
		expect(first).toEqual({
			ok: true,
			expiresAt: new Date((jwt.decode(viaRest.body.accessToken) as { exp: number }).exp * 1000).toISOString()
		});
		// Tokens count whole seconds, so one issued this second expires with the first; a longer one shows the socket follows it.
		const later = await emitAck(refreshed, "auth:refresh", { token: tokenFor(eve, 60) });
		expect(Date.parse(later.expiresAt) - Date.now()).toBeGreaterThan(55_000);

		expect(await told).toEqual({
			code: "TOKEN_EXPIRED",
			message: "The access token has expired: refresh it, then connect again with the new one"
		});
		expect(await gone).toBe("io server disconnect");
		const lifetime = Date.now() - issuedAt;
		console.log(`unrefreshed socket ended ${lifetime} ms after its token was issued (ACCESS_TOKEN_TTL=10)`);
		expect(lifetime).toBeGreaterThanOrEqual(9_000);
		// Up to 10 s of token, then the expiry timer: what is left is slack for a loaded machine.
		expect(lifetime).toBeLessThan(15_000);

		const arrival = nextEvent(peer, "message:new");
		const sent = await emitAck(refreshed, "message:send", {
			conversationId,
			clientMsgId: "after-expiry",
			type: "text",
			content: "still here"
		});
		expect(sent.ok).toBe(true);
		expect((await arrival).message.id).toBe(sent.message.id);
		expect(refreshed.connected).toBe(true);
		expect(refreshedEvents).not.toContain("auth:expired");
	}, 30_000);
});

describe("open sockets per user and per address", () => {
	let gochat: RunningGoChat;
	let api: Api;
	const sockets: Socket[] = [];
	const keep = <T extends { socket?: Socket }>(outcome: T) => {
		if (outcome.socket) sockets.push(outcome.socket);
		return outcome;
	};

	beforeAll(async () => {
		gochat = await startGoChat({ SOCKETS_PER_USER: "3", SOCKETS_PER_ADDRESS: "5" });
		api = new Api(gochat.baseUrl);
	});
	afterEach(async () => {
		closeAll(sockets.splice(0));
		await untilSockets(gochat, 0);
	});
	afterAll(() => gochat.stop());

	test("past SOCKETS_PER_USER the handshake is refused with RATE_LIMITED; a closed socket frees its place", async () => {
		const gus = await register(api, "gus");
		const opened = await Promise.all(
			Array.from({ length: 8 }, () => attempt(gochat.baseUrl, gus.accessToken).then(keep))
		);
		expect(opened.filter(o => o.socket)).toHaveLength(3);
		expect(opened.filter(o => o.refused)[0].refused).toEqual({
			code: "RATE_LIMITED",
			message: "Too many open sockets for this user (at most 3)"
		});
		await untilSockets(gochat, 3);

		sockets.shift()!.close();
		await untilSockets(gochat, 2);
		expect(keep(await attempt(gochat.baseUrl, gus.accessToken)).socket).toBeDefined();
		expect((await attempt(gochat.baseUrl, gus.accessToken)).refused?.code).toBe("RATE_LIMITED");
	});

	test("handshakes abandoned while the token is checked give their place back", async () => {
		const ivy = await register(api, "ivy");
		const abandoned = Array.from(
			{ length: 20 },
			() =>
				new Promise<void>(resolve => {
					const socket = io(gochat.baseUrl, {
						auth: { token: ivy.accessToken },
						transports: ["websocket"],
						reconnection: false,
						forceNew: true
					});
					// Registered after the socket's own handler, so the CONNECT packet is sent first and the transport closes right after it.
					socket.io.on("open", () => {
						socket.io.engine.close();
						resolve();
					});
				})
		);
		await Promise.all(abandoned);
		await untilSockets(gochat, 0);
		const opened = await Promise.all(
			Array.from({ length: 3 }, () => attempt(gochat.baseUrl, ivy.accessToken).then(keep))
		);
		expect(opened.every(o => o.socket)).toBe(true);
	});

	test("past SOCKETS_PER_ADDRESS further users from that address are refused; other addresses are not affected", async () => {
		const users = await Promise.all(["ha", "hb", "hc"].map(name => register(api, name)));
		for (const user of users.slice(0, 2)) {
			for (let i = 0; i < 2; i++)
				expect(keep(await attempt(gochat.baseUrl, user.accessToken)).socket).toBeDefined();
		}
		expect(keep(await attempt(gochat.baseUrl, users[2].accessToken)).socket).toBeDefined();
		expect((await attempt(gochat.baseUrl, users[2].accessToken)).refused).toEqual({
			code: "RATE_LIMITED",
			message: "Too many open sockets from this address (at most 5)"
		});
		expect(keep(await attempt(gochat.baseUrl, users[2].accessToken, "127.0.0.2")).socket).toBeDefined();

		closeAll(sockets.splice(0));
		await untilSockets(gochat, 0);
		const again = await Promise.all(
			Array.from({ length: 5 }, (_, i) => attempt(gochat.baseUrl, users[i % 3].accessToken).then(keep))
		);
		expect(again.every(o => o.socket)).toBe(true);
	});
});
