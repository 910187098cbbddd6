import { Api } from "../../../client/src/api";
import { GoChatError } from "../../../client/src/errors";
import { Session, SessionEvents } from "../../../client/src/session";
import { MemoryTokenStore } from "../../../client/src/token-store";
import { alice, FakeServer, jwt } from "./fake-server";

function setup(options: { refreshBeforeExpiryMs?: number } = {}) {
	const server = new FakeServer();
	const store = new MemoryTokenStore();
	const session = new Session({ baseUrl: "http://gochat.test", fetch: server.fetch, tokenStore: store, ...options });
	const events: Array<{ event: keyof SessionEvents; payload: unknown }> = [];
	session.on("tokens", payload => events.push({ event: "tokens", payload }));
	session.on("signedOut", payload => events.push({ event: "signedOut", payload }));
	const signedOut = () => events.filter(e => e.event === "signedOut").map(e => e.payload);
	return { server, store, session, api: new Api(session), events, signedOut };
}

afterEach(() => jest.useRealTimers());

describe("Session tokens", () => {
	it("logs in, stores the tokens and emits them", async () => {
		const { session, store, events } = setup();
		await expect(session.login("alice", "pw")).resolves.toEqual(alice);
		expect(session.user).toEqual(alice);
		expect(store.load()?.refreshToken).toBe("s1.r1");
		expect(events).toEqual([{ event: "tokens", payload: { accessToken: store.load()!.accessToken, user: alice } }]);
		session.dispose();
	});

	it("refreshes once for several concurrent requests refused with TOKEN_EXPIRED, then retries each", async () => {
		const { server, session, api } = setup();
		await session.login("alice", "pw");
		server.expireIssued();
		const answers = await Promise.all([1, 2, 3, 4, 5].map(() => api.users.get("1")));
		expect(answers).toHaveLength(5);
		expect(answers.every(a => a.user.id === "1")).toBe(true);
		expect(server.refreshes()).toBe(1);
		// Each request went out twice: refused with the old token, then answered with the new one.
		const fresh = `Bearer ${session.currentToken}`;
		const gets = server.calls.filter(c => c.path === "/api/v1/users/1");
		expect(gets.filter(c => c.authorization === fresh)).toHaveLength(5);
		expect(gets).toHaveLength(10);
		session.dispose();
	});

	it("shares one refresh between concurrent refreshNow() callers", async () => {
		const { server, session } = setup();
		await session.login("alice", "pw");
		const tokens = await Promise.all([session.refreshNow(), session.refreshNow(), session.refreshNow()]);
		expect(new Set(tokens).size).toBe(1);
		expect(server.refreshes()).toBe(1);
		session.dispose();
	});

	it("refreshes before the access token expires (fake timers)", async () => {
		jest.useFakeTimers();
		const { server, session, events } = setup();
		await session.login("alice", "pw");
		await jest.advanceTimersByTimeAsync(839_000);
		expect(server.refreshes()).toBe(0);
		await jest.advanceTimersByTimeAsync(2_000);
		expect(server.refreshes()).toBe(1);
		expect(events.filter(e => e.event === "tokens")).toHaveLength(2);
		// And again for the new token, 60 s before its own expiry.
		await jest.advanceTimersByTimeAsync(840_000);
		expect(server.refreshes()).toBe(2);
		session.dispose();
	});

	it("refreshes a short-lived token a third of its lifetime before expiry", async () => {
		jest.useFakeTimers();
		const { server, session } = setup();
		server.ttlSeconds = 30;
		await session.login("alice", "pw");
		await jest.advanceTimersByTimeAsync(19_000);
		expect(server.refreshes()).toBe(0);
		await jest.advanceTimersByTimeAsync(2_000);
		expect(server.refreshes()).toBe(1);
		session.dispose();
	});

	it("stays signed in when a refresh fails on the network, and retries with backoff", async () => {
		jest.useFakeTimers();
		const { server, session, store, signedOut, api } = setup();
		await session.login("alice", "pw");
		server.offline = true;
		// The refresh is due at 840 s; its retry 1 s later, ±20 % jitter.
		await jest.advanceTimersByTimeAsync(840_500);
		expect(server.refreshes()).toBe(1);
		await jest.advanceTimersByTimeAsync(1_300);
		expect(server.refreshes()).toBe(2);
		expect(session.user).toEqual(alice);
		expect(store.load()).not.toBeNull();
		expect(signedOut()).toEqual([]);
		// Still offline, the token not expired yet: requests go out with it (and fail on the network).
		await expect(api.users.me()).rejects.toMatchObject({ code: "NETWORK_ERROR", status: 0 });
		server.offline = false;
		await jest.advanceTimersByTimeAsync(5_000);
		expect(session.user).toEqual(alice);
		await expect(api.users.me()).resolves.toEqual({ user: alice });
		expect(signedOut()).toEqual([]);
		session.dispose();
	});

	it("signs out and clears the store when the server refuses the refresh", async () => {
		jest.useFakeTimers();
		const { server, session, store, signedOut, api } = setup();
		await session.login("alice", "pw");
		server.revokeSession();
		await jest.advanceTimersByTimeAsync(841_000);
		expect(signedOut()).toEqual([{ reason: "expired" }]);
		expect(session.user).toBeNull();
		expect(store.load()).toBeNull();
		const err = await api.users.me().catch(e => e);
		expect(err).toBeInstanceOf(GoChatError);
		expect(err).toMatchObject({ status: 401, code: "UNAUTHORIZED" });
		expect(jest.getTimerCount()).toBe(0);
	});

	it("signs out with reason revoked when a request answers TOKEN_REVOKED", async () => {
		const { server, session, store, signedOut, api } = setup();
		await session.login("alice", "pw");
		server.revokeSession();
		await expect(api.users.me()).rejects.toMatchObject({ status: 401, code: "TOKEN_REVOKED" });
		expect(signedOut()).toEqual([{ reason: "revoked" }]);
		expect(store.load()).toBeNull();
	});

	it("logs out on the server, clears the store, stops the timer and emits signedOut", async () => {
		jest.useFakeTimers();
		const { server, session, store, signedOut } = setup();
		await session.login("alice", "pw");
		const token = session.currentToken;
		await session.logout();
		expect(server.calls.at(-1)).toMatchObject({
			method: "POST",
			path: "/api/v1/auth/logout",
			authorization: `Bearer ${token}`
		});
		expect(store.load()).toBeNull();
		expect(signedOut()).toEqual([{ reason: "logout" }]);
		expect(jest.getTimerCount()).toBe(0);
		await expect(session.accessToken()).rejects.toMatchObject({ code: "UNAUTHORIZED" });
	});

	it("a sign-in that lands while the logout is still on its way keeps its tokens", async () => {
		const { server, session, store, signedOut } = setup();
		await session.login("alice", "pw");
		// The logout's request takes 50 ms; the login after it is answered at once and lands first.
		server.delayMs = 50;
		const out = session.logout();
		server.delayMs = 0;
		await session.login("alice", "pw");
		const kept = store.load();
		await out;
		expect(signedOut()).toEqual([]);
		expect(store.load()).toEqual(kept);
		expect(session.user).toEqual(alice);
		session.dispose();
	});

	it("logs out locally even when the server cannot be reached", async () => {
		const { server, session, store, signedOut } = setup();
		await session.login("alice", "pw");
		server.offline = true;
		await session.logout();
		expect(store.load()).toBeNull();
		expect(signedOut()).toEqual([{ reason: "logout" }]);
	});
});

describe("Session.restore", () => {
	it("answers null when nothing is stored", async () => {
		const { session } = setup();
		await expect(session.restore()).resolves.toBeNull();
	});

	it("signs in with stored tokens that are still fresh, without refreshing", async () => {
		const { server, session, store, events } = setup();
		store.save(server.issue());
		await expect(session.restore()).resolves.toEqual(alice);
		expect(server.refreshes()).toBe(0);
		expect(events.map(e => e.event)).toEqual(["tokens"]);
		session.dispose();
	});

	it("refreshes stored tokens whose access token has expired", async () => {
		const { server, session, store } = setup();
		const now = Math.floor(Date.now() / 1000);
		store.save({ ...server.issue(), accessToken: jwt({ sub: "1", iat: now - 1000, exp: now - 100 }) });
		await expect(session.restore()).resolves.toEqual(alice);
		expect(server.refreshes()).toBe(1);
		expect(store.load()?.refreshToken).toBe("s1.r2");
		session.dispose();
	});

	it("answers null and clears the store when the stored refresh token is refused", async () => {
		const { server, session, store } = setup();
		const now = Math.floor(Date.now() / 1000);
		store.save({
			accessToken: jwt({ sub: "1", iat: now - 1000, exp: now - 100 }),
			refreshToken: "s1.spent",
			user: alice
		});
		await expect(session.restore()).resolves.toBeNull();
		expect(server.refreshes()).toBe(1);
		expect(store.load()).toBeNull();
	});

	it("keeps the stored tokens when offline", async () => {
		const { server, session, store, signedOut } = setup();
		const now = Math.floor(Date.now() / 1000);
		store.save({ ...server.issue(), accessToken: jwt({ sub: "1", iat: now - 1000, exp: now - 100 }) });
		server.offline = true;
		await expect(session.restore()).resolves.toEqual(alice);
		expect(store.load()).not.toBeNull();
		expect(signedOut()).toEqual([]);
		session.dispose();
	});

	it("takes tokens another tab already rotated instead of reusing its spent refresh token", async () => {
		const { server, store, session: tabA } = setup();
		const tabB = new Session({ baseUrl: "http://gochat.test", fetch: server.fetch, tokenStore: store });
		await tabA.login("alice", "pw");
		await tabB.restore();
		await tabA.refreshNow();
		// Tab B still holds the first refresh token; using it would revoke the session.
		const token = await tabB.refreshNow();
		expect(token).toBe(tabA.currentToken);
		expect(server.refreshes()).toBe(1);
		await expect(new Api(tabB).users.me()).resolves.toEqual({ user: alice });
		tabA.dispose();
		tabB.dispose();
	});
});
