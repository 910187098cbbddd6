import jwt from "jsonwebtoken";
import { REST_BASE_PATH, REST_ROUTES } from "../../lib/contracts/client";
import type { User } from "../../lib/types";
import { Api } from "../../client/src/api";
import { GoChatError } from "../../client/src/errors";
import { Session } from "../../client/src/session";
import { MemoryTokenStore } from "../../client/src/token-store";
import { startGoChat, RunningGoChat } from "../helpers/gochat";
import { Api as RawApi } from "../helpers/http";
import { until } from "../helpers/wait";

/**
 * The SDK's REST layer against a real GoChat: every route through its named method, errors as
 * GoChatError, and tokens refreshed transparently (ACCESS_TOKEN_TTL at its minimum, 10 s).
 */
describe("SDK REST (client/src/api.ts) against a real GoChat", () => {
	let gochat: RunningGoChat;
	const sessions: Session[] = [];
	/** Every route that answered 2xx to an SDK request, as "METHOD /path/:template". */
	const served = new Set<string>();
	const routes = Object.values(REST_ROUTES).map(route => ({
		key: `${route.method} ${route.path}`,
		method: route.method,
		pattern: new RegExp(`^${REST_BASE_PATH}${route.path.replace(/:\w+/g, "[^/]+")}$`)
	}));

	function client(tokenStore = new MemoryTokenStore()) {
		let refreshes = 0;
		// A fetch that notes which routes answered, and counts this client's refreshes.
		const recordingFetch = (async (input: string, init?: RequestInit) => {
			const response = await fetch(input, init);
			const { pathname } = new URL(input);
			if (pathname.endsWith("/auth/refresh")) refreshes++;
			const route = routes.find(r => r.method === (init?.method ?? "GET") && r.pattern.test(pathname));
			if (route && response.ok) served.add(route.key);
			return response;
		}) as typeof fetch;
		const session = new Session({ baseUrl: gochat.baseUrl, fetch: recordingFetch, tokenStore });
		sessions.push(session);
		return { session, api: new Api(session), store: tokenStore, refreshes: () => refreshes };
	}

	const name = (who: string) => `${who}_${process.pid % 1000}`;

	beforeAll(async () => {
		gochat = await startGoChat({ ACCESS_TOKEN_TTL: "10" });
	});
	afterAll(async () => {
		for (const session of sessions) session.dispose();
		await gochat.stop();
	});

	test("every named method reaches its route and answers typed results", async () => {
		const alice = client();
		const bob = client();
		const carol = client();
		const guest = client();
		const aliceUser = await alice.session.register({
			username: name("alice"),
			password: "correct horse",
			displayName: "Alice"
		});
		const bobUser = await bob.session.register({ username: name("bob"), password: "correct horse" });
		await client().session.register({ username: name("carol"), password: "correct horse" });
		const carolUser = await carol.session.login(name("carol"), "correct horse");
		const guestUser = await guest.session.guest("Visitor");
		expect(guestUser).toMatchObject({ isGuest: true, displayName: "Visitor" });
		expect(aliceUser).toMatchObject({ username: name("alice"), displayName: "Alice", isGuest: false });

		let conversationId = "";
		let groupId = "";
		// Each step names the method it walks; the test checks below that none is missing.
		const steps: Array<[string, () => Promise<void>]> = [
			[
				"users.me",
				async () =>
					expect((await alice.api.users.me()).user).toMatchObject({
						id: aliceUser.id,
						groupAddPolicy: "everyone"
					})
			],
			[
				"users.updateMe",
				async () => {
					const { user } = await alice.api.users.updateMe({ displayName: "Alice L." });
					expect(user.displayName).toBe("Alice L.");
					expect(alice.session.user?.displayName).toBe("Alice L.");
					expect(alice.store.load()?.user.displayName).toBe("Alice L.");
				}
			],
			[
				"users.get",
				async () => expect((await alice.api.users.get(bobUser.id)).user.username).toBe(bobUser.username)
			],
			[
				"users.search",
				async () => {
					const { users } = await alice.api.users.search(bobUser.username, 5);
					expect(users.map((u: User) => u.id)).toContain(bobUser.id);
				}
			],
			[
				"conversations.openDirect",
				async () => {
					const opened = await alice.api.conversations.openDirect(bobUser.id);
					expect(opened.created).toBe(true);
					conversationId = opened.conversation.id;
				}
			],
			[
				"messages.send",
				async () => {
					const { message } = await alice.api.messages.send({
						conversationId,
						clientMsgId: "c-1",
						type: "text",
						content: "hi bob"
					});
					expect(message).toMatchObject({ seq: 1, content: "hi bob", senderId: aliceUser.id });
				}
			],
			[
				"messages.history",
				async () => {
					const page = await bob.api.messages.history(conversationId, { afterSeq: 0, limit: 10 });
					expect(page.messages.map(m => m.content)).toEqual(["hi bob"]);
					expect(page.hasMore).toBe(false);
				}
			],
			[
				"conversations.markRead",
				async () =>
					expect(await bob.api.conversations.markRead(conversationId, 1)).toMatchObject({
						readSeq: 1,
						unreadCount: 0
					})
			],
			[
				"presence.query",
				async () => {
					// Nobody has a socket here: bob (a 1:1 peer) is offline, carol (no 1:1) is not alice's to see.
					const { presence } = await alice.api.presence.query([bobUser.id, carolUser.id]);
					expect(presence).toEqual([
						{ userId: bobUser.id, online: false },
						{ userId: carolUser.id, online: null }
					]);
				}
			],
			[
				"conversations.list",
				async () => {
					const { conversations } = await bob.api.conversations.list({ limit: 10 });
					expect(conversations.map(c => c.id)).toContain(conversationId);
				}
			],
			[
				"groups.create",
				async () => {
					const { group, refused } = await alice.api.groups.create("Team", [bobUser.id]);
					expect(refused).toEqual([]);
					groupId = group.id;
				}
			],
			["groups.get", async () => expect((await bob.api.groups.get(groupId)).group.name).toBe("Team")],
			[
				"groups.addMembers",
				async () =>
					expect((await alice.api.groups.addMembers(groupId, [carolUser.id])).added).toEqual([carolUser.id])
			],
			[
				"groups.members",
				async () => {
					const { members } = await alice.api.groups.members(groupId, { limit: 10 });
					expect(members.map(m => m.userId).sort()).toEqual([aliceUser.id, bobUser.id, carolUser.id].sort());
				}
			],
			[
				"groups.setRole",
				async () =>
					expect((await alice.api.groups.setRole(groupId, carolUser.id, "admin")).member.role).toBe("admin")
			],
			["groups.removeMember", async () => void (await alice.api.groups.removeMember(groupId, carolUser.id))],
			["groups.leave", async () => void (await bob.api.groups.leave(groupId))],
			[
				"groups.block",
				async () => expect(await bob.api.groups.block(groupId)).toEqual({ groupId, blocked: true, left: false })
			],
			[
				"groups.unblock",
				async () => expect(await bob.api.groups.unblock(groupId)).toEqual({ groupId, blocked: false })
			]
		];
		for (const [, step] of steps) await step();

		const named = (["users", "conversations", "messages", "presence", "groups"] as const).flatMap(group =>
			Object.keys(alice.api[group]).map(method => `${group}.${method}`)
		);
		expect(steps.map(([method]) => method).sort()).toEqual(named.sort());

		await guest.session.refreshNow();
		await guest.session.logout();
		// Every route of REST_ROUTES answered 2xx to the SDK at least once.
		expect([...served].sort()).toEqual(routes.map(r => r.key).sort());
	});

	test("server refusals come back as GoChatError with status and code", async () => {
		const alice = client();
		const bob = client();
		const carol = client();
		await alice.session.register({ username: name("dora"), password: "correct horse" });
		const bobUser = await bob.session.register({ username: name("eve"), password: "correct horse" });
		await carol.session.guest();
		const { conversation } = await alice.api.conversations.openDirect(bobUser.id);

		const notMember = await carol.api.messages.history(conversation.id).catch((e: unknown) => e);
		expect(notMember).toBeInstanceOf(GoChatError);
		expect(notMember).toMatchObject({ status: 404, code: "CONVERSATION_NOT_FOUND" });

		await expect(client().session.login(name("dora"), "wrong password")).rejects.toMatchObject({
			status: 401,
			code: "INVALID_CREDENTIALS"
		});
		await expect(alice.api.users.search("no spaces allowed")).rejects.toMatchObject({
			status: 400,
			code: "INVALID_INPUT"
		});
	});

	test("after logout, the SDK refuses locally and a copy of the old tokens gets TOKEN_REVOKED", async () => {
		const store = new MemoryTokenStore();
		const alice = client(store);
		await alice.session.guest("Leaving");
		const copy = client(new MemoryTokenStore());
		copy.store.save(store.load()!);
		await copy.session.restore();
		const signedOut: string[] = [];
		copy.session.on("signedOut", ({ reason }) => signedOut.push(reason));

		await alice.session.logout();
		expect(store.load()).toBeNull();
		await expect(alice.api.users.me()).rejects.toMatchObject({ status: 401, code: "UNAUTHORIZED" });
		const revoked = await copy.api.users.me().catch((e: unknown) => e);
		expect(revoked).toBeInstanceOf(GoChatError);
		expect(revoked).toMatchObject({ status: 401, code: "TOKEN_REVOKED" });
		expect(signedOut).toEqual(["revoked"]);
		expect(copy.session.user).toBeNull();
	});

	test("a refused access token (TOKEN_INVALID) is refreshed once and the requests retried", async () => {
		const owner = client();
		const user = await owner.session.guest("Rekeyed");
		const stored = owner.store.load()!;
		owner.session.dispose();
		// As if the server's signing key changed: the access token is refused, the refresh token still holds.
		const foreign = jwt.sign({ sid: "x" }, "another secret", { subject: user.id, expiresIn: 600 });
		const { session, api, store, refreshes } = client(new MemoryTokenStore());
		store.save({ ...stored, accessToken: foreign });
		await session.restore();
		const answers = await Promise.all([1, 2, 3].map(() => api.users.me()));
		expect(answers.map(a => a.user.id)).toEqual([user.id, user.id, user.id]);
		expect(refreshes()).toBe(1);
		expect(store.load()?.accessToken).not.toBe(foreign);
	});

	test("past the access token's lifetime: the timer refreshed in time, and an expired token is refreshed once for concurrent requests", async () => {
		const timely = client();
		const lazy = client();
		const timelyTokens: string[] = [];
		timely.session.on("tokens", ({ accessToken }) => timelyTokens.push(accessToken));
		await timely.session.guest("Timely");
		await lazy.session.guest("Lazy");
		const first = lazy.session.currentToken!;
		// No timer for this one: its requests find the token expired and must refresh it themselves.
		lazy.session.dispose();
		const raw = new RawApi(gochat.baseUrl, first);
		await until(
			async () => (await raw.get("/api/v1/users/me")).body?.error?.code === "TOKEN_EXPIRED",
			"the tokens to expire",
			{
				timeoutMs: 15_000,
				everyMs: 250
			}
		);

		const answers = await Promise.all([1, 2, 3, 4, 5].map(() => lazy.api.users.me()));
		expect(answers.map(a => a.user.id)).toEqual(Array(5).fill(lazy.session.user!.id));
		expect(lazy.refreshes()).toBe(1);
		expect(lazy.session.currentToken).not.toBe(first);

		expect(timelyTokens.length).toBeGreaterThanOrEqual(2);
		const before = timely.refreshes();
		await expect(timely.api.users.me()).resolves.toMatchObject({ user: { id: timely.session.user!.id } });
		expect(timely.refreshes()).toBe(before);
	}, 30_000);
});
