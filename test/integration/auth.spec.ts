import { startGoChat, RunningGoChat } from "../helpers/gochat";
import { Api, register } from "../helpers/http";

describe("auth over HTTP", () => {
	let gochat: RunningGoChat;
	let api: Api;

	beforeAll(async () => {
		gochat = await startGoChat({ LOGIN_MAX_FAILURES: "3", LOGIN_LOCKOUT_SECONDS: "60" });
		api = new Api(gochat.baseUrl);
	});
	afterAll(() => gochat.stop());

	test("register returns the user and a working token pair", async () => {
		const res = await api.post("/api/v1/auth/register", {
			username: "Alice_1",
			password: "password1",
			displayName: "Alice"
		});
		expect(res.status).toBe(201);
		expect(res.body.user).toMatchObject({
			username: "Alice_1",
			displayName: "Alice",
			isGuest: false,
			avatarUrl: null
		});
		expect(res.body.user.id).toMatch(/^\d+$/);
		expect(res.body.user).not.toHaveProperty("passwordHash");
		const me = await api.as(res.body.accessToken).get("/api/v1/users/me");
		expect(me.status).toBe(200);
		expect(me.body.user.id).toBe(res.body.user.id);
	});

	test("usernames are unique regardless of case", async () => {
		await api.post("/api/v1/auth/register", { username: "CaseUser", password: "password1" });
		const res = await api.post("/api/v1/auth/register", { username: "caseuser", password: "password1" });
		expect(res.status).toBe(409);
		expect(res.body.error.code).toBe("USERNAME_TAKEN");
	});

	test.each([
		[{ username: "ab", password: "password1" }, "username"],
		[{ username: "x".repeat(33), password: "password1" }, "username"],
		[{ username: "bad-name", password: "password1" }, "username"],
		[{ username: "goodname", password: "short" }, "password"],
		[{ username: "goodname", password: "p".repeat(129) }, "password"],
		[{ username: "goodname" }, "password"],
		[{ username: "goodname", password: "password1", displayName: "" }, "displayName"]
	])("register refuses %j with 400 naming %s", async (body, field) => {
		const res = await api.post("/api/v1/auth/register", body);
		expect(res.status).toBe(400);
		expect(res.body.error.code).toBe("INVALID_INPUT");
		expect(res.body.error.message.toLowerCase()).toContain(field.toLowerCase());
		const viewer = await register(api, "viewer");
		const search = await viewer.api.get("/api/v1/users?q=goodname");
		expect(search.body.users).toEqual([]);
	});

	test("login accepts the username in any case and refuses a wrong password", async () => {
		const alice = await register(api, "login");
		const ok = await api.post("/api/v1/auth/login", {
			username: alice.user.username.toUpperCase(),
			password: "correct horse"
		});
		expect(ok.status).toBe(200);
		expect(ok.body.user.id).toBe(alice.user.id);
		const bad = await api.post("/api/v1/auth/login", { username: alice.user.username, password: "wrong horse" });
		expect(bad.status).toBe(401);
		expect(bad.body.error.code).toBe("INVALID_CREDENTIALS");
		const unknown = await api.post("/api/v1/auth/login", { username: "nobody_here", password: "whatever1" });
		expect(unknown.status).toBe(401);
		expect(unknown.body.error.code).toBe("INVALID_CREDENTIALS");
	});

	test("repeated failed logins for one username are answered 429, even with the right password", async () => {
		const bob = await register(api, "locked");
		for (let i = 0; i < 3; i++) {
			const res = await api.post("/api/v1/auth/login", { username: bob.user.username, password: "wrong horse" });
			expect(res.status).toBe(401);
		}
		const locked = await api.post("/api/v1/auth/login", { username: bob.user.username, password: "correct horse" });
		expect(locked.status).toBe(429);
		expect(locked.body.error.code).toBe("TOO_MANY_ATTEMPTS");
		expect(Number(locked.headers.get("retry-after"))).toBeGreaterThan(0);
		const other = await register(api, "free");
		const fine = await api.post("/api/v1/auth/login", { username: other.user.username, password: "correct horse" });
		expect(fine.status).toBe(200);
	});

	test("guest login creates a guest user who can use the API", async () => {
		const res = await api.post("/api/v1/auth/guest", { displayName: "Visitor" });
		expect(res.status).toBe(201);
		expect(res.body.user).toMatchObject({ isGuest: true, displayName: "Visitor" });
		const me = await api.as(res.body.accessToken).get("/api/v1/users/me");
		expect(me.body.user.isGuest).toBe(true);
		const login = await api.post("/api/v1/auth/login", { username: res.body.user.username, password: "anything1" });
		expect(login.status).toBe(401);
	});

	test("refresh rotates the refresh token, and a used one is refused and ends the session", async () => {
		const carol = await register(api, "refresh");
		const first = await api.post("/api/v1/auth/refresh", { refreshToken: carol.refreshToken });
		expect(first.status).toBe(200);
		expect(first.body.refreshToken).not.toBe(carol.refreshToken);
		expect((await api.as(first.body.accessToken).get("/api/v1/users/me")).status).toBe(200);

		const reused = await api.post("/api/v1/auth/refresh", { refreshToken: carol.refreshToken });
		expect(reused.status).toBe(401);
		expect(reused.body.error.code).toBe("REFRESH_TOKEN_INVALID");
		// Reuse means the token leaked: the rotated pair dies with the session.
		const after = await api.post("/api/v1/auth/refresh", { refreshToken: first.body.refreshToken });
		expect(after.status).toBe(401);
		expect((await api.as(first.body.accessToken).get("/api/v1/users/me")).status).toBe(401);
	});

	test("a malformed refresh token is a 401, a missing one a 400", async () => {
		expect((await api.post("/api/v1/auth/refresh", { refreshToken: "garbage" })).status).toBe(401);
		expect((await api.post("/api/v1/auth/refresh", { refreshToken: "x.y" })).status).toBe(401);
		const missing = await api.post("/api/v1/auth/refresh", {});
		expect(missing.status).toBe(400);
		expect(missing.body.error.code).toBe("INVALID_INPUT");
	});

	test("logout stops the access token at once and kills the refresh token", async () => {
		const dave = await register(api, "logout");
		expect((await dave.api.get("/api/v1/users/me")).status).toBe(200);
		const out = await dave.api.post("/api/v1/auth/logout");
		expect(out.status).toBe(200);
		const me = await dave.api.get("/api/v1/users/me");
		expect(me.status).toBe(401);
		expect(me.body.error.code).toBe("TOKEN_REVOKED");
		expect((await api.post("/api/v1/auth/refresh", { refreshToken: dave.refreshToken })).status).toBe(401);
	});

	test("requests without a valid bearer token get 401 with a reason", async () => {
		const none = await api.get("/api/v1/users/me");
		expect(none.status).toBe(401);
		expect(none.body.error.code).toBe("UNAUTHORIZED");
		const bad = await api.as("not-a-jwt").get("/api/v1/conversations");
		expect(bad.status).toBe(401);
		expect(bad.body.error.code).toBe("TOKEN_INVALID");
	});
});
