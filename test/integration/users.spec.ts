import { startGoChat, RunningGoChat } from "../helpers/gochat";
import { Account, Api, register } from "../helpers/http";

describe("user profiles over HTTP", () => {
	let gochat: RunningGoChat;
	let api: Api;
	let alice: Account;

	beforeAll(async () => {
		gochat = await startGoChat();
		api = new Api(gochat.baseUrl);
		alice = await register(api, "alice");
	});
	afterAll(() => gochat.stop());

	test("a user updates their display name and avatar, and others see it", async () => {
		const res = await alice.api.patch("/api/v1/users/me", {
			displayName: "  Alice A.  ",
			avatarUrl: "https://cdn.example.com/a.png"
		});
		expect(res.status).toBe(200);
		expect(res.body.user).toMatchObject({ displayName: "Alice A.", avatarUrl: "https://cdn.example.com/a.png" });
		const bob = await register(api, "bob");
		const seen = await bob.api.get(`/api/v1/users/${alice.user.id}`);
		expect(seen.body.user).toMatchObject({ id: alice.user.id, displayName: "Alice A." });
		const cleared = await alice.api.patch("/api/v1/users/me", { avatarUrl: null });
		expect(cleared.body.user.avatarUrl).toBeNull();
	});

	test.each([
		[{}],
		[{ displayName: "" }],
		[{ displayName: "x".repeat(65) }],
		[{ displayName: "bad\u0007name" }],
		[{ avatarUrl: "not a url" }],
		[{ displayName: 5 }]
	])("a profile update with %j is refused with 400 and changes nothing", async body => {
		const before = await alice.api.get("/api/v1/users/me");
		const res = await alice.api.patch("/api/v1/users/me", body);
		expect([res.status, res.body.error.code]).toEqual([400, "INVALID_INPUT"]);
		const after = await alice.api.get("/api/v1/users/me");
		expect(after.body.user).toEqual(before.body.user);
	});

	test("an unknown user is a 404 and a malformed id a 400", async () => {
		const unknown = await alice.api.get("/api/v1/users/123456789");
		expect([unknown.status, unknown.body.error.code]).toEqual([404, "USER_NOT_FOUND"]);
		const bad = await alice.api.get("/api/v1/users/12ab");
		expect([bad.status, bad.body.error.code]).toEqual([400, "INVALID_INPUT"]);
	});

	test("search finds users by username prefix, case-insensitively, underscores taken literally", async () => {
		const reg = (username: string) => api.post("/api/v1/auth/register", { username, password: "password1" });
		await reg("Zed_one");
		await reg("zed_two");
		await reg("zedxthree");
		const res = await alice.api.get("/api/v1/users?q=ZED_");
		expect(res.status).toBe(200);
		expect(res.body.users.map((u: { username: string }) => u.username)).toEqual(["Zed_one", "zed_two"]);
		const limited = await alice.api.get("/api/v1/users?q=zed&limit=1");
		expect(limited.body.users).toHaveLength(1);
		const bad = await alice.api.get("/api/v1/users?q=a%25");
		expect([bad.status, bad.body.error.code]).toEqual([400, "INVALID_INPUT"]);
		const missing = await alice.api.get("/api/v1/users");
		expect([missing.status, missing.body.error.code]).toEqual([400, "INVALID_INPUT"]);
	});
});
