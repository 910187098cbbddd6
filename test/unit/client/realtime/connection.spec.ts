import type { Socket } from "socket.io-client";
import type { ClientError } from "../../../../lib/contracts/client";
import { Connection, type ConnectionHooks, type TokenSource } from "../../../../client/src/realtime/connection";
import type { ConnectionEvent } from "../../../../client/src/types";
import { FakeSocketBase } from "../fake-socket";

/** The connection's socket: acks always answer ok, and the test records what was sent. */
class FakeSocket extends FakeSocketBase {
	constructor() {
		super(250);
	}
	disconnect() {
		this.connected = false;
		this.active = false;
		return this;
	}
	emitted: Array<[string, unknown]> = [];
	timeout() {
		return {
			emitWithAck: (event: string, payload: unknown) => {
				this.emitted.push([event, payload]);
				return Promise.resolve({ ok: true });
			}
		};
	}
	refuse(code: string, details?: unknown) {
		this.active = false;
		this.fire("connect_error", Object.assign(new Error(code), { data: { code, message: code, details } }));
	}
}

const flush = () => new Promise(resolve => setImmediate(resolve));

function setup(tokens: Partial<TokenSource> = {}) {
	const socket = new FakeSocket();
	const states: ConnectionEvent[] = [];
	const fatal: Array<[ClientError, boolean]> = [];
	const hooks: ConnectionHooks = {
		state: e => states.push(e),
		connected: jest.fn(),
		interrupted: jest.fn(),
		event: jest.fn(),
		fatal: (error, signOut) => fatal.push([error, signOut])
	};
	const source: TokenSource = {
		accessToken: jest.fn(async () => "token-1"),
		refreshNow: jest.fn(async () => "token-2"),
		...tokens
	};
	const connection = new Connection(
		{
			baseUrl: "http://gochat.test",
			transports: ["websocket"],
			reconnectDelayMs: 10,
			reconnectDelayMaxMs: 20,
			requestTimeoutMs: 1000
		},
		source,
		hooks,
		(_url, options) => {
			socket.auth = options.auth as typeof socket.auth;
			return socket as unknown as Socket;
		}
	);
	return { socket, states, fatal, hooks, source, connection };
}

describe("Connection", () => {
	test("connects with a fresh token from the session and reports each state", async () => {
		const { socket, states, hooks, connection } = setup();
		connection.open();
		const auth = await new Promise(resolve => socket.auth(resolve));
		expect(auth).toEqual({ token: "token-1" });
		socket.up();
		expect(hooks.connected).toHaveBeenCalledTimes(1);
		expect(connection.canSend).toBe(true);
		// A dropped connection: Socket.IO's backoff is reported with attempt and delay.
		socket.fire("disconnect", "transport close");
		socket.io.backoff.attempts = 1;
		socket.io.backoff.duration();
		expect(hooks.interrupted).toHaveBeenCalled();
		connection.close();
		expect(states.map(s => s.state)).toEqual(["connecting", "connected", "reconnecting", "disconnected"]);
		expect(states[2]).toMatchObject({ attempt: 1, delayMs: 250 });
	});

	test("a handshake refused with TOKEN_EXPIRED refreshes, then connects again", async () => {
		const { socket, source, connection, fatal } = setup();
		connection.open();
		socket.refuse("TOKEN_EXPIRED");
		await flush();
		expect(source.refreshNow).toHaveBeenCalledTimes(1);
		expect(socket.connects).toBe(2);
		expect(fatal).toEqual([]);
	});

	test("TOKEN_REVOKED with a refused refresh is final: disconnected, signed out", async () => {
		const refusal = Object.assign(new Error("refused"), { status: 401, code: "TOKEN_REVOKED" });
		const { socket, states, connection, fatal } = setup({
			refreshNow: jest.fn(async () => Promise.reject(refusal))
		});
		connection.open();
		socket.refuse("TOKEN_REVOKED");
		await flush();
		expect(fatal).toEqual([[expect.objectContaining({ code: "TOKEN_REVOKED" }), true]]);
		expect(states[states.length - 1]).toMatchObject({ state: "disconnected", error: { code: "TOKEN_REVOKED" } });
	});

	test("server:shutdown stops sends on the socket and is acked", () => {
		const { socket, connection } = setup();
		connection.open();
		socket.up();
		const ack = jest.fn();
		socket.fire("server:shutdown", { reason: "shutting-down", reconnectInMs: 3 }, ack);
		expect(ack).toHaveBeenCalledTimes(1);
		expect(connection.canSend).toBe(false);
		socket.fire("disconnect", "transport close");
		socket.up();
		expect(connection.canSend).toBe(true);
	});

	test("auth:expired refreshes and reconnects; auth:revoked signs out; rate:exceeded waits retryAfter", async () => {
		jest.useFakeTimers({ doNotFake: ["setImmediate"] });
		try {
			const { socket, source, connection, fatal } = setup();
			connection.open();
			socket.up();
			socket.fire("auth:expired", { code: "TOKEN_EXPIRED", message: "expired" });
			socket.fire("disconnect", "io server disconnect");
			await flush();
			expect(source.refreshNow).toHaveBeenCalledTimes(1);
			expect(socket.connects).toBe(2);
			socket.up();

			socket.fire("rate:exceeded", { code: "RATE_LIMITED", message: "slow down", details: { retryAfter: 10 } });
			socket.fire("disconnect", "io server disconnect");
			jest.advanceTimersByTime(9_000);
			expect(socket.connects).toBe(2);
			jest.advanceTimersByTime(1_000);
			expect(socket.connects).toBe(3);
			socket.up();

			socket.fire("auth:revoked", { code: "TOKEN_REVOKED", message: "kicked" });
			socket.fire("disconnect", "io server disconnect");
			expect(fatal).toEqual([[expect.objectContaining({ code: "TOKEN_REVOKED" }), true]]);
		} finally {
			jest.useRealTimers();
		}
	});

	test("tokens rotated while the handshake was on its way are handed to the socket once it is up", async () => {
		const { socket, connection } = setup();
		connection.open();
		await new Promise(resolve => socket.auth(resolve));
		connection.refreshToken("token-2");
		expect(socket.emitted).toEqual([]);
		socket.up();
		expect(socket.emitted).toEqual([["auth:refresh", { token: "token-2" }]]);
	});

	test("requests are not buffered while the socket is down", async () => {
		const { connection } = setup();
		await expect(connection.request("typing", { conversationId: "world" })).rejects.toThrow("not connected");
	});
});
