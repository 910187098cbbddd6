import { startGoChat, RunningGoChat } from "../helpers/gochat";
import { Account, Api, Reply, register } from "../helpers/http";

/** Every group route over real HTTP, with GROUP_MAX_MEMBERS=5 so capacity is easy to reach. */
const MAX_MEMBERS = 5;
const UNKNOWN_ID = "99999999999999999";

describe("groups over HTTP", () => {
	let gochat: RunningGoChat;
	let api: Api;

	beforeAll(async () => {
		gochat = await startGoChat({ GROUP_MAX_MEMBERS: String(MAX_MEMBERS) });
		api = new Api(gochat.baseUrl);
	});
	afterAll(() => gochat.stop());

	// ---- helpers -------------------------------------------------------------------------

	async function users(count: number, name = "user"): Promise<Account[]> {
		const accounts: Account[] = [];
		for (let i = 0; i < count; i++) accounts.push(await register(api, `${name}${i}`));
		return accounts;
	}

	async function createGroup(owner: Account, members: Account[], name = "Team"): Promise<any> {
		const res = await owner.api.post("/api/v1/groups", { name, memberIds: members.map(m => m.user.id) });
		if (res.status !== 201) throw new Error(`create group failed: ${res.status} ${JSON.stringify(res.body)}`);
		return res.body.group;
	}

	async function groupAs(viewer: Account, groupId: string): Promise<any> {
		const res = await viewer.api.get(`/api/v1/groups/${groupId}`);
		expect(res.status).toBe(200);
		return res.body.group;
	}

	/** userId → role, read in one page by a member. */
	async function rolesAs(viewer: Account, groupId: string): Promise<Record<string, string>> {
		const res = await viewer.api.get(`/api/v1/groups/${groupId}/members?limit=1000`);
		expect(res.status).toBe(200);
		expect(res.body.nextCursor).toBeNull();
		return Object.fromEntries(res.body.members.map((m: any) => [m.userId, m.role]));
	}

	/** The IDs of the group conversations the account sees in its conversation list. */
	async function groupConversations(account: Account): Promise<string[]> {
		const res = await account.api.get("/api/v1/conversations");
		expect(res.status).toBe(200);
		return res.body.conversations
			.filter((c: any) => c.type === "group")
			.map((c: any) => c.id)
			.sort();
	}

	function expectError(res: Reply, status: number, code: string): void {
		expect({ status: res.status, code: res.body?.error?.code }).toEqual({ status, code });
	}

	const ids = (accounts: Account[]) => accounts.map(a => a.user.id).sort();

	/**
	 * "0123" is not the ID "123". Refused either as no such thing (404, what the groups service
	 * answers) or as not an ID at all (400, should the shared ID rule come to forbid leading zeros);
	 * never as an alias of the real record, which is what MariaDB's numeric BIGINT comparison did.
	 */
	function expectNotAnAlias(res: Reply, notFoundCode: string): void {
		expect([
			{ status: 404, code: notFoundCode },
			{ status: 400, code: "INVALID_INPUT" }
		]).toContainEqual({ status: res.status, code: res.body?.error?.code });
	}

	// ---- POST /groups --------------------------------------------------------------------

	describe("creating a group", () => {
		test("the creator becomes owner, the listed users become members, and everyone can open the group", async () => {
			const [owner, bob, carol] = await users(3, "create");
			const res = await owner.api.post("/api/v1/groups", {
				name: "Hiking club",
				memberIds: [bob.user.id, carol.user.id]
			});
			expect(res.status).toBe(201);
			const group = res.body.group;
			expect(group).toMatchObject({
				name: "Hiking club",
				ownerId: owner.user.id,
				memberCount: 3,
				avatarUrl: null
			});
			expect(group.id).toMatch(/^\d+$/);
			expect(group.conversationId).toBe(`group_${group.id}`);
			expect(new Date(group.createdAt).toISOString()).toBe(group.createdAt);

			expect(await rolesAs(owner, group.id)).toEqual({
				[owner.user.id]: "owner",
				[bob.user.id]: "member",
				[carol.user.id]: "member"
			});
			for (const member of [bob, carol]) {
				expect(await groupAs(member, group.id)).toMatchObject({
					id: group.id,
					ownerId: owner.user.id,
					memberCount: 3
				});
			}
		});

		test("duplicate member IDs and the creator's own ID are counted once", async () => {
			const [owner, bob, carol] = await users(3, "dupes");
			const res = await owner.api.post("/api/v1/groups", {
				name: "Dupes",
				memberIds: [bob.user.id, bob.user.id, owner.user.id, carol.user.id, carol.user.id]
			});
			expect(res.status).toBe(201);
			expect(res.body.group.memberCount).toBe(3);
			const roles = await rolesAs(owner, res.body.group.id);
			expect(Object.keys(roles).sort()).toEqual(ids([owner, bob, carol]));
			expect(roles[owner.user.id]).toBe("owner");
		});

		test("a group can start with just its owner, with or without an empty memberIds", async () => {
			const [owner] = await users(1, "solo");
			const omitted = await owner.api.post("/api/v1/groups", { name: "Just me" });
			const empty = await owner.api.post("/api/v1/groups", { name: "Just me too", memberIds: [] });
			for (const res of [omitted, empty]) {
				expect(res.status).toBe(201);
				expect(res.body.group).toMatchObject({ ownerId: owner.user.id, memberCount: 1 });
				expect(await rolesAs(owner, res.body.group.id)).toEqual({ [owner.user.id]: "owner" });
			}
		});

		test("a group of exactly GROUP_MAX_MEMBERS people can be created", async () => {
			const [owner, ...others] = await users(MAX_MEMBERS, "exact");
			const group = await createGroup(owner, others);
			expect(group.memberCount).toBe(MAX_MEMBERS);
		});

		test("one person more than GROUP_MAX_MEMBERS is refused with 409 GROUP_FULL and no group is created", async () => {
			const [owner, ...others] = await users(MAX_MEMBERS + 1, "toobig");
			const res = await owner.api.post("/api/v1/groups", {
				name: "Too big",
				memberIds: others.map(o => o.user.id)
			});
			expectError(res, 409, "GROUP_FULL");
			expect(res.body.error.details).toMatchObject({ maxMembers: MAX_MEMBERS });
			for (const account of [owner, ...others]) expect(await groupConversations(account)).toEqual([]);
		});

		test("an unknown member ID is refused with 404 USER_NOT_FOUND naming it, and no group is created", async () => {
			const [owner, bob] = await users(2, "unknownmember");
			const res = await owner.api.post("/api/v1/groups", {
				name: "Ghosts",
				memberIds: [bob.user.id, UNKNOWN_ID]
			});
			expectError(res, 404, "USER_NOT_FOUND");
			expect(res.body.error.details).toEqual({ missing: [UNKNOWN_ID] });
			expect(await groupConversations(owner)).toEqual([]);
			expect(await groupConversations(bob)).toEqual([]);
		});

		test.each([
			["no name", { memberIds: [] }],
			["an empty name", { name: "", memberIds: [] }],
			["a blank name", { name: "   ", memberIds: [] }],
			["a name over 64 characters", { name: "n".repeat(65), memberIds: [] }],
			["a name with control characters", { name: "bad\u0007name", memberIds: [] }],
			["a numeric name", { name: 42, memberIds: [] }],
			["memberIds that is not a list", { name: "Team", memberIds: "123" }],
			["a memberId that is not an ID", { name: "Team", memberIds: ["abc"] }],
			["a memberId sent as a JSON number", { name: "Team", memberIds: [123] }],
			["a memberId with more than 20 digits", { name: "Team", memberIds: ["1".repeat(21)] }]
		])("creating a group with %s is refused with 400 INVALID_INPUT and nothing is created", async (_what, body) => {
			const [owner] = await users(1, "badcreate");
			const res = await owner.api.post("/api/v1/groups", body);
			expectError(res, 400, "INVALID_INPUT");
			expect(await groupConversations(owner)).toEqual([]);
		});

		test("a request body that is not JSON is refused with 400 MALFORMED_JSON and nothing is created", async () => {
			const [owner] = await users(1, "malformed");
			const res = await owner.api.request("POST", "/api/v1/groups", undefined, { raw: "{name: oops" });
			expectError(res, 400, "MALFORMED_JSON");
			expect(await groupConversations(owner)).toEqual([]);
		});
	});

	// ---- authentication and bad group IDs on every route ----------------------------------

	describe("every group route", () => {
		const routes: Array<[string, string, (id: string, userId: string) => string, unknown]> = [
			["GET /groups/:id", "GET", id => `/groups/${id}`, undefined],
			["GET /groups/:id/members", "GET", id => `/groups/${id}/members`, undefined],
			["POST /groups/:id/members", "POST", id => `/groups/${id}/members`, "add"],
			[
				"DELETE /groups/:id/members/:userId",
				"DELETE",
				(id, userId) => `/groups/${id}/members/${userId}`,
				undefined
			],
			[
				"PATCH /groups/:id/members/:userId",
				"PATCH",
				(id, userId) => `/groups/${id}/members/${userId}`,
				{ role: "admin" }
			],
			["POST /groups/:id/leave", "POST", id => `/groups/${id}/leave`, {}]
		];
		const bodyFor = (body: unknown, userId: string) => (body === "add" ? { userIds: [userId] } : body);

		test.each(routes)(
			"%s without a bearer token is refused with 401 UNAUTHORIZED and changes nothing",
			async (_route, method, path, body) => {
				const [owner, bob, carol] = await users(3, "noauth");
				const group = await createGroup(owner, [bob]);
				const res = await api.request(
					method,
					`/api/v1${path(group.id, bob.user.id)}`,
					bodyFor(body, carol.user.id)
				);
				expectError(res, 401, "UNAUTHORIZED");
				expect(await groupAs(owner, group.id)).toMatchObject({ memberCount: 2, ownerId: owner.user.id });
				expect(await rolesAs(owner, group.id)).toEqual({ [owner.user.id]: "owner", [bob.user.id]: "member" });
			}
		);

		test("creating a group without a bearer token is refused with 401 UNAUTHORIZED", async () => {
			const res = await api.post("/api/v1/groups", { name: "Anonymous" });
			expectError(res, 401, "UNAUTHORIZED");
		});

		test.each(routes)(
			"%s with an unknown group ID answers 404 GROUP_NOT_FOUND",
			async (_route, method, path, body) => {
				const [owner, bob] = await users(2, "nogroup");
				const res = await owner.api.request(
					method,
					`/api/v1${path(UNKNOWN_ID, bob.user.id)}`,
					bodyFor(body, bob.user.id)
				);
				expectError(res, 404, "GROUP_NOT_FOUND");
				expect(await groupConversations(owner)).toEqual([]);
				expect(await groupConversations(bob)).toEqual([]);
			}
		);

		test.each(routes)(
			"%s with a non-numeric group ID answers 400 INVALID_INPUT and changes nothing",
			async (_route, method, path, body) => {
				const [owner, bob, carol] = await users(3, "badgroupid");
				const group = await createGroup(owner, [bob]);
				const res = await owner.api.request(
					method,
					`/api/v1${path("abc", bob.user.id)}`,
					bodyFor(body, carol.user.id)
				);
				expectError(res, 400, "INVALID_INPUT");
				expect(await groupAs(owner, group.id)).toMatchObject({ memberCount: 2, ownerId: owner.user.id });
				expect(await rolesAs(owner, group.id)).toEqual({ [owner.user.id]: "owner", [bob.user.id]: "member" });
			}
		);

		test.each(routes)(
			"%s with the group ID spelled with a leading zero does not reach the group, even for its owner",
			async (_route, method, path, body) => {
				const [owner, bob, carol] = await users(3, "zerogroup");
				const group = await createGroup(owner, [bob]);
				const res = await owner.api.request(
					method,
					`/api/v1${path(`0${group.id}`, bob.user.id)}`,
					bodyFor(body, carol.user.id)
				);
				expectNotAnAlias(res, "GROUP_NOT_FOUND");
				expect(await groupAs(owner, group.id)).toMatchObject({ memberCount: 2, ownerId: owner.user.id });
				expect(await rolesAs(owner, group.id)).toEqual({ [owner.user.id]: "owner", [bob.user.id]: "member" });
				expect(await groupConversations(carol)).toEqual([]);
			}
		);

		test.each(routes)(
			"%s by someone outside the group answers 404 GROUP_NOT_FOUND, as for a group that does not exist, and changes nothing",
			async (_route, method, path, body) => {
				const [owner, bob, outsider] = await users(3, "outsider");
				const group = await createGroup(owner, [bob]);
				const res = await outsider.api.request(
					method,
					`/api/v1${path(group.id, bob.user.id)}`,
					bodyFor(body, outsider.user.id)
				);
				expectError(res, 404, "GROUP_NOT_FOUND");
				expect(await groupAs(owner, group.id)).toMatchObject({ memberCount: 2, ownerId: owner.user.id });
				expect(await rolesAs(owner, group.id)).toEqual({ [owner.user.id]: "owner", [bob.user.id]: "member" });
				expect(await groupConversations(outsider)).toEqual([]);
			}
		);
	});

	// ---- GET /groups/:id/members --------------------------------------------------------

	describe("listing members", () => {
		test("each member comes with their role, join time and public profile", async () => {
			const [owner, bob] = await users(2, "profile");
			const group = await createGroup(owner, [bob]);
			const res = await bob.api.get(`/api/v1/groups/${group.id}/members`);
			expect(res.status).toBe(200);
			expect(res.body.nextCursor).toBeNull();
			const byId = new Map(res.body.members.map((m: any) => [m.userId, m]));
			expect(byId.size).toBe(2);
			for (const [account, role] of [
				[owner, "owner"],
				[bob, "member"]
			] as const) {
				const member: any = byId.get(account.user.id);
				expect(member).toMatchObject({ userId: account.user.id, role });
				expect(new Date(member.joinedAt).toISOString()).toBe(member.joinedAt);
				expect(member.user).toMatchObject({
					id: account.user.id,
					username: account.user.username,
					displayName: account.user.displayName
				});
				expect(member.user).not.toHaveProperty("passwordHash");
			}
		});

		test.each([1, 2, 3, MAX_MEMBERS, MAX_MEMBERS + 1])(
			"paging with limit=%i visits every member exactly once",
			async limit => {
				const [owner, ...others] = await users(MAX_MEMBERS, `page${limit}_`);
				const group = await createGroup(owner, others);
				const seen: string[] = [];
				let after: string | null = null;
				for (let pages = 0; ; pages++) {
					expect(pages).toBeLessThanOrEqual(MAX_MEMBERS + 1);
					const query: string = `limit=${limit}` + (after ? `&after=${after}` : "");
					const res = await others[0].api.get(`/api/v1/groups/${group.id}/members?${query}`);
					expect(res.status).toBe(200);
					expect(res.body.members.length).toBeLessThanOrEqual(limit);
					seen.push(...res.body.members.map((m: any) => m.userId));
					after = res.body.nextCursor;
					if (after === null) break;
					expect(after).toBe(res.body.members[res.body.members.length - 1].userId);
				}
				expect(seen.length).toBe(MAX_MEMBERS);
				expect(new Set(seen).size).toBe(MAX_MEMBERS);
				expect([...seen].sort()).toEqual(ids([owner, ...others]));
			}
		);

		test.each([
			["limit=0", "limit=0"],
			["a limit above 1000", "limit=1001"],
			["a non-numeric limit", "limit=abc"],
			["a fractional limit", "limit=1.5"],
			["a non-numeric cursor", "after=abc"]
		])("listing members with %s is refused with 400 INVALID_INPUT", async (_what, query) => {
			const [owner, bob] = await users(2, "badpage");
			const group = await createGroup(owner, [bob]);
			const res = await owner.api.get(`/api/v1/groups/${group.id}/members?${query}`);
			expectError(res, 400, "INVALID_INPUT");
			expect(await rolesAs(owner, group.id)).toEqual({ [owner.user.id]: "owner", [bob.user.id]: "member" });
		});
	});

	// ---- POST /groups/:id/members -------------------------------------------------------

	describe("adding members", () => {
		test("the owner adds new users; people already in the group are skipped and not counted again", async () => {
			const [owner, bob, carol, dave] = await users(4, "add");
			const group = await createGroup(owner, [bob]);
			const res = await owner.api.post(`/api/v1/groups/${group.id}/members`, {
				userIds: [bob.user.id, carol.user.id, carol.user.id, owner.user.id, dave.user.id]
			});
			expect(res.status).toBe(200);
			expect([...res.body.added].sort()).toEqual(ids([carol, dave]));
			expect(res.body.group).toMatchObject({ id: group.id, memberCount: 4 });
			expect(await groupAs(carol, group.id)).toMatchObject({ memberCount: 4 });
			expect(await rolesAs(dave, group.id)).toEqual({
				[owner.user.id]: "owner",
				[bob.user.id]: "member",
				[carol.user.id]: "member",
				[dave.user.id]: "member"
			});
			expect(await groupConversations(dave)).toEqual([group.conversationId]);
		});

		test("adding only people who are already members adds nobody and changes nothing, even in a full group", async () => {
			const [owner, ...others] = await users(MAX_MEMBERS, "readd");
			const group = await createGroup(owner, others);
			const res = await owner.api.post(`/api/v1/groups/${group.id}/members`, {
				userIds: others.map(o => o.user.id)
			});
			expect(res.status).toBe(200);
			expect(res.body.added).toEqual([]);
			expect(res.body.group.memberCount).toBe(MAX_MEMBERS);
			expect((await groupAs(owner, group.id)).memberCount).toBe(MAX_MEMBERS);
		});

		test("a plain member cannot add people: 403 FORBIDDEN and nobody is added", async () => {
			const [owner, bob, carol] = await users(3, "memberadd");
			const group = await createGroup(owner, [bob]);
			const res = await bob.api.post(`/api/v1/groups/${group.id}/members`, { userIds: [carol.user.id] });
			expectError(res, 403, "FORBIDDEN");
			expect((await groupAs(owner, group.id)).memberCount).toBe(2);
			expect(await groupConversations(carol)).toEqual([]);
			expectError(await carol.api.get(`/api/v1/groups/${group.id}`), 404, "GROUP_NOT_FOUND");
		});

		test("adding more people than there is room for is refused with 409 GROUP_FULL and adds none of them", async () => {
			const [owner, bob, carol, ...newcomers] = await users(6, "overflow");
			const group = await createGroup(owner, [bob, carol]);
			const res = await owner.api.post(`/api/v1/groups/${group.id}/members`, {
				userIds: newcomers.map(n => n.user.id)
			});
			expectError(res, 409, "GROUP_FULL");
			expect(res.body.error.details).toMatchObject({ memberCount: 3, maxMembers: MAX_MEMBERS });
			expect((await groupAs(owner, group.id)).memberCount).toBe(3);
			expect(Object.keys(await rolesAs(owner, group.id)).sort()).toEqual(ids([owner, bob, carol]));
			for (const newcomer of newcomers) {
				expect(await groupConversations(newcomer)).toEqual([]);
				expectError(await newcomer.api.get(`/api/v1/groups/${group.id}`), 404, "GROUP_NOT_FOUND");
			}
		});

		test("filling the group up to GROUP_MAX_MEMBERS works, and one more is refused with 409 GROUP_FULL", async () => {
			const [owner, bob, carol, dave, erin, frank] = await users(6, "fill");
			const group = await createGroup(owner, [bob, carol]);
			const fill = await owner.api.post(`/api/v1/groups/${group.id}/members`, {
				userIds: [dave.user.id, erin.user.id]
			});
			expect(fill.status).toBe(200);
			expect(fill.body.group.memberCount).toBe(MAX_MEMBERS);

			const more = await owner.api.post(`/api/v1/groups/${group.id}/members`, { userIds: [frank.user.id] });
			expectError(more, 409, "GROUP_FULL");
			expect((await groupAs(owner, group.id)).memberCount).toBe(MAX_MEMBERS);
			expect(await groupConversations(frank)).toEqual([]);
		});

		test("a list with an unknown user ID is refused with 404 USER_NOT_FOUND and adds nobody, not even the known users", async () => {
			const [owner, bob, carol] = await users(3, "addunknown");
			const group = await createGroup(owner, [bob]);
			const res = await owner.api.post(`/api/v1/groups/${group.id}/members`, {
				userIds: [carol.user.id, UNKNOWN_ID]
			});
			expectError(res, 404, "USER_NOT_FOUND");
			expect(res.body.error.details).toEqual({ missing: [UNKNOWN_ID] });
			expect((await groupAs(owner, group.id)).memberCount).toBe(2);
			expect(await groupConversations(carol)).toEqual([]);
		});

		test.each([
			["no userIds", {}],
			["an empty userIds list", { userIds: [] }],
			["userIds that is not a list", { userIds: "123" }],
			["a userId that is not an ID", { userIds: ["12a"] }],
			["a userId sent as a JSON number", { userIds: [123] }]
		])("adding with %s is refused with 400 INVALID_INPUT and nobody is added", async (_what, body) => {
			const [owner, bob] = await users(2, "badadd");
			const group = await createGroup(owner, [bob]);
			const res = await owner.api.post(`/api/v1/groups/${group.id}/members`, body);
			expectError(res, 400, "INVALID_INPUT");
			expect((await groupAs(owner, group.id)).memberCount).toBe(2);
			expect(await rolesAs(owner, group.id)).toEqual({ [owner.user.id]: "owner", [bob.user.id]: "member" });
		});

		test("the same user added by the owner and an admin at the same moment joins once", async () => {
			const [owner, admin, carol] = await users(3, "doubleadd");
			const group = await createGroup(owner, [admin]);
			expect(
				(await owner.api.patch(`/api/v1/groups/${group.id}/members/${admin.user.id}`, { role: "admin" })).status
			).toBe(200);
			const results = await Promise.all(
				[owner, admin].map(a => a.api.post(`/api/v1/groups/${group.id}/members`, { userIds: [carol.user.id] }))
			);
			expect(results.map(r => r.status)).toEqual([200, 200]);
			expect(results.flatMap(r => r.body.added)).toEqual([carol.user.id]);
			expect((await groupAs(carol, group.id)).memberCount).toBe(3);
			expect(Object.keys(await rolesAs(carol, group.id)).sort()).toEqual(ids([owner, admin, carol]));
		});

		test("two simultaneous adds that would overflow together: exactly one succeeds and the group stops at the limit", async () => {
			const [owner, bob, first1, first2, first3, second1, second2, second3] = await users(8, "race");
			const group = await createGroup(owner, [bob]);
			const [a, b] = await Promise.all([
				owner.api.post(`/api/v1/groups/${group.id}/members`, {
					userIds: [first1, first2, first3].map(u => u.user.id)
				}),
				owner.api.post(`/api/v1/groups/${group.id}/members`, {
					userIds: [second1, second2, second3].map(u => u.user.id)
				})
			]);
			expect([a.status, b.status].sort()).toEqual([200, 409]);
			const refused = a.status === 409 ? a : b;
			expect(refused.body.error.code).toBe("GROUP_FULL");
			const winners = a.status === 200 ? [first1, first2, first3] : [second1, second2, second3];
			expect((await groupAs(owner, group.id)).memberCount).toBe(MAX_MEMBERS);
			expect(Object.keys(await rolesAs(owner, group.id)).sort()).toEqual(ids([owner, bob, ...winners]));
		});
	});

	// ---- PATCH /groups/:id/members/:userId -----------------------------------------------

	describe("changing roles", () => {
		test("the owner promotes a member to admin, who can then add people; demoted again, they cannot", async () => {
			const [owner, bob, carol, dave] = await users(4, "promote");
			const group = await createGroup(owner, [bob]);

			const promote = await owner.api.patch(`/api/v1/groups/${group.id}/members/${bob.user.id}`, {
				role: "admin"
			});
			expect(promote.status).toBe(200);
			expect(promote.body.member).toMatchObject({
				userId: bob.user.id,
				role: "admin",
				conversationId: group.conversationId
			});
			expect((await rolesAs(bob, group.id))[bob.user.id]).toBe("admin");

			const add = await bob.api.post(`/api/v1/groups/${group.id}/members`, { userIds: [carol.user.id] });
			expect(add.status).toBe(200);
			expect(add.body.added).toEqual([carol.user.id]);

			const demote = await owner.api.patch(`/api/v1/groups/${group.id}/members/${bob.user.id}`, {
				role: "member"
			});
			expect(demote.status).toBe(200);
			expect(demote.body.member.role).toBe("member");

			const refused = await bob.api.post(`/api/v1/groups/${group.id}/members`, { userIds: [dave.user.id] });
			expectError(refused, 403, "FORBIDDEN");
			expect((await groupAs(owner, group.id)).memberCount).toBe(3);
			expect(await groupConversations(dave)).toEqual([]);
		});

		test("admins and plain members cannot change roles: 403 FORBIDDEN and the role stays", async () => {
			const [owner, admin, bob] = await users(3, "rolecheck");
			const group = await createGroup(owner, [admin, bob]);
			expect(
				(await owner.api.patch(`/api/v1/groups/${group.id}/members/${admin.user.id}`, { role: "admin" })).status
			).toBe(200);

			expectError(
				await admin.api.patch(`/api/v1/groups/${group.id}/members/${bob.user.id}`, { role: "admin" }),
				403,
				"FORBIDDEN"
			);
			expectError(
				await bob.api.patch(`/api/v1/groups/${group.id}/members/${bob.user.id}`, { role: "admin" }),
				403,
				"FORBIDDEN"
			);
			expectError(
				await bob.api.patch(`/api/v1/groups/${group.id}/members/${admin.user.id}`, { role: "member" }),
				403,
				"FORBIDDEN"
			);
			expectError(
				await admin.api.patch(`/api/v1/groups/${group.id}/members/${owner.user.id}`, { role: "member" }),
				403,
				"FORBIDDEN"
			);
			expect(await rolesAs(owner, group.id)).toEqual({
				[owner.user.id]: "owner",
				[admin.user.id]: "admin",
				[bob.user.id]: "member"
			});
		});

		test("the owner cannot change their own role: 403 FORBIDDEN and they stay owner", async () => {
			const [owner, bob] = await users(2, "selfrole");
			const group = await createGroup(owner, [bob]);
			const res = await owner.api.patch(`/api/v1/groups/${group.id}/members/${owner.user.id}`, {
				role: "member"
			});
			expectError(res, 403, "FORBIDDEN");
			expect((await rolesAs(owner, group.id))[owner.user.id]).toBe("owner");
			expect((await groupAs(bob, group.id)).ownerId).toBe(owner.user.id);
		});

		test("the owner cannot demote themselves by writing their ID with a leading zero, and keeps the owner's powers", async () => {
			const [owner, bob, carol] = await users(3, "zeroowner");
			const group = await createGroup(owner, [bob]);
			for (const role of ["member", "admin"]) {
				const res = await owner.api.patch(`/api/v1/groups/${group.id}/members/0${owner.user.id}`, { role });
				expectNotAnAlias(res, "MEMBER_NOT_FOUND");
			}
			expect(await rolesAs(bob, group.id)).toEqual({ [owner.user.id]: "owner", [bob.user.id]: "member" });
			expect((await groupAs(bob, group.id)).ownerId).toBe(owner.user.id);
			const add = await owner.api.post(`/api/v1/groups/${group.id}/members`, { userIds: [carol.user.id] });
			expect(add.status).toBe(200);
		});

		test("a member's ID written with a leading zero does not reach that member: their role stays", async () => {
			const [owner, bob] = await users(2, "zerorole");
			const group = await createGroup(owner, [bob]);
			const res = await owner.api.patch(`/api/v1/groups/${group.id}/members/0${bob.user.id}`, { role: "admin" });
			expectNotAnAlias(res, "MEMBER_NOT_FOUND");
			expect(await rolesAs(owner, group.id)).toEqual({ [owner.user.id]: "owner", [bob.user.id]: "member" });
		});

		test("changing the role of someone outside the group answers 404 MEMBER_NOT_FOUND and does not add them", async () => {
			const [owner, bob, outsider] = await users(3, "rolenotmember");
			const group = await createGroup(owner, [bob]);
			for (const userId of [outsider.user.id, UNKNOWN_ID]) {
				const res = await owner.api.patch(`/api/v1/groups/${group.id}/members/${userId}`, { role: "admin" });
				expectError(res, 404, "MEMBER_NOT_FOUND");
			}
			expect((await groupAs(owner, group.id)).memberCount).toBe(2);
			expect(await rolesAs(owner, group.id)).toEqual({ [owner.user.id]: "owner", [bob.user.id]: "member" });
			expect(await groupConversations(outsider)).toEqual([]);
		});

		test.each([
			["role owner (ownership cannot be handed over this way)", { role: "owner" }],
			["an unknown role", { role: "superuser" }],
			["no role", {}],
			["a role in capitals", { role: "ADMIN" }]
		])("setting %s is refused with 400 INVALID_INPUT and the roles stay", async (_what, body) => {
			const [owner, bob] = await users(2, "badrole");
			const group = await createGroup(owner, [bob]);
			const res = await owner.api.patch(`/api/v1/groups/${group.id}/members/${bob.user.id}`, body);
			expectError(res, 400, "INVALID_INPUT");
			expect(await rolesAs(owner, group.id)).toEqual({ [owner.user.id]: "owner", [bob.user.id]: "member" });
			expect((await groupAs(bob, group.id)).ownerId).toBe(owner.user.id);
		});

		test("a non-numeric user ID in the path is refused with 400 INVALID_INPUT", async () => {
			const [owner, bob] = await users(2, "roleuserid");
			const group = await createGroup(owner, [bob]);
			const res = await owner.api.patch(`/api/v1/groups/${group.id}/members/bob`, { role: "admin" });
			expectError(res, 400, "INVALID_INPUT");
			expect(await rolesAs(owner, group.id)).toEqual({ [owner.user.id]: "owner", [bob.user.id]: "member" });
		});
	});

	// ---- DELETE /groups/:id/members/:userId ----------------------------------------------

	describe("removing members", () => {
		test("a removed member disappears from the group and loses access to it and its messages", async () => {
			const [owner, bob, carol] = await users(3, "remove");
			const group = await createGroup(owner, [bob, carol]);
			const sent = await bob.api.post(`/api/v1/conversations/${group.conversationId}/messages`, {
				clientMsgId: "before-removal",
				type: "text",
				content: "hi"
			});
			expect(sent.status).toBe(200);

			const res = await owner.api.delete(`/api/v1/groups/${group.id}/members/${bob.user.id}`);
			expect(res.status).toBe(200);
			expect(res.body.group).toMatchObject({ id: group.id, memberCount: 2, ownerId: owner.user.id });
			expect(await groupAs(carol, group.id)).toMatchObject({ memberCount: 2 });
			expect(await rolesAs(carol, group.id)).toEqual({ [owner.user.id]: "owner", [carol.user.id]: "member" });

			expectError(await bob.api.get(`/api/v1/groups/${group.id}`), 404, "GROUP_NOT_FOUND");
			expectError(await bob.api.get(`/api/v1/groups/${group.id}/members`), 404, "GROUP_NOT_FOUND");
			expectError(
				await bob.api.get(`/api/v1/conversations/${group.conversationId}/messages`),
				404,
				"CONVERSATION_NOT_FOUND"
			);
			const after = await bob.api.post(`/api/v1/conversations/${group.conversationId}/messages`, {
				clientMsgId: "after-removal",
				type: "text",
				content: "still here?"
			});
			expectError(after, 404, "CONVERSATION_NOT_FOUND");
			expect(await groupConversations(bob)).toEqual([]);

			const history = await carol.api.get(`/api/v1/conversations/${group.conversationId}/messages`);
			expect(history.body.messages.map((m: any) => m.content)).toEqual(["hi"]);
		});

		test("nobody can remove the owner: 403 FORBIDDEN and the owner stays", async () => {
			const [owner, admin, bob] = await users(3, "removeowner");
			const group = await createGroup(owner, [admin, bob]);
			expect(
				(await owner.api.patch(`/api/v1/groups/${group.id}/members/${admin.user.id}`, { role: "admin" })).status
			).toBe(200);
			expectError(
				await admin.api.delete(`/api/v1/groups/${group.id}/members/${owner.user.id}`),
				403,
				"FORBIDDEN"
			);
			expectError(await bob.api.delete(`/api/v1/groups/${group.id}/members/${owner.user.id}`), 403, "FORBIDDEN");
			expect(await groupAs(bob, group.id)).toMatchObject({ memberCount: 3, ownerId: owner.user.id });
			expect((await rolesAs(bob, group.id))[owner.user.id]).toBe("owner");
		});

		test("an admin removes plain members but not another admin; the owner can remove an admin", async () => {
			const [owner, admin1, admin2, bob] = await users(4, "adminremove");
			const group = await createGroup(owner, [admin1, admin2, bob]);
			for (const admin of [admin1, admin2]) {
				expect(
					(await owner.api.patch(`/api/v1/groups/${group.id}/members/${admin.user.id}`, { role: "admin" }))
						.status
				).toBe(200);
			}

			const refused = await admin1.api.delete(`/api/v1/groups/${group.id}/members/${admin2.user.id}`);
			expectError(refused, 403, "FORBIDDEN");
			expect((await groupAs(owner, group.id)).memberCount).toBe(4);
			expect((await rolesAs(owner, group.id))[admin2.user.id]).toBe("admin");

			const byAdmin = await admin1.api.delete(`/api/v1/groups/${group.id}/members/${bob.user.id}`);
			expect(byAdmin.status).toBe(200);
			expect(byAdmin.body.group.memberCount).toBe(3);
			expectError(await bob.api.get(`/api/v1/groups/${group.id}`), 404, "GROUP_NOT_FOUND");

			const byOwner = await owner.api.delete(`/api/v1/groups/${group.id}/members/${admin2.user.id}`);
			expect(byOwner.status).toBe(200);
			expect(byOwner.body.group.memberCount).toBe(2);
			expect(await rolesAs(owner, group.id)).toEqual({ [owner.user.id]: "owner", [admin1.user.id]: "admin" });
			expectError(await admin2.api.get(`/api/v1/groups/${group.id}`), 404, "GROUP_NOT_FOUND");
		});

		test("a plain member cannot remove anyone else: 403 FORBIDDEN and the member stays", async () => {
			const [owner, bob, carol] = await users(3, "memberremove");
			const group = await createGroup(owner, [bob, carol]);
			expectError(await bob.api.delete(`/api/v1/groups/${group.id}/members/${carol.user.id}`), 403, "FORBIDDEN");
			expect((await groupAs(carol, group.id)).memberCount).toBe(3);
			expect(Object.keys(await rolesAs(carol, group.id)).sort()).toEqual(ids([owner, bob, carol]));
		});

		test("removing someone who is not in the group answers 404 MEMBER_NOT_FOUND and the count stays", async () => {
			const [owner, bob, outsider] = await users(3, "removemissing");
			const group = await createGroup(owner, [bob]);
			for (const userId of [outsider.user.id, UNKNOWN_ID]) {
				expectError(
					await owner.api.delete(`/api/v1/groups/${group.id}/members/${userId}`),
					404,
					"MEMBER_NOT_FOUND"
				);
			}
			expect((await groupAs(owner, group.id)).memberCount).toBe(2);
			expect(await rolesAs(owner, group.id)).toEqual({ [owner.user.id]: "owner", [bob.user.id]: "member" });
		});

		test("removing the same member twice: the second time answers 404 MEMBER_NOT_FOUND and the count drops only once", async () => {
			const [owner, bob, carol] = await users(3, "removetwice");
			const group = await createGroup(owner, [bob, carol]);
			expect((await owner.api.delete(`/api/v1/groups/${group.id}/members/${bob.user.id}`)).status).toBe(200);
			expectError(
				await owner.api.delete(`/api/v1/groups/${group.id}/members/${bob.user.id}`),
				404,
				"MEMBER_NOT_FOUND"
			);
			expect((await groupAs(owner, group.id)).memberCount).toBe(2);
		});

		test("a non-numeric user ID in the path is refused with 400 INVALID_INPUT and nobody is removed", async () => {
			const [owner, bob] = await users(2, "removeuserid");
			const group = await createGroup(owner, [bob]);
			expectError(await owner.api.delete(`/api/v1/groups/${group.id}/members/bob`), 400, "INVALID_INPUT");
			expect((await groupAs(owner, group.id)).memberCount).toBe(2);
		});

		test("a member's ID written with a leading zero does not remove that member", async () => {
			const [owner, bob] = await users(2, "zeroremove");
			const group = await createGroup(owner, [bob]);
			expectNotAnAlias(
				await owner.api.delete(`/api/v1/groups/${group.id}/members/0${bob.user.id}`),
				"MEMBER_NOT_FOUND"
			);
			expect(await groupAs(bob, group.id)).toMatchObject({ memberCount: 2 });
			expect(await rolesAs(owner, group.id)).toEqual({ [owner.user.id]: "owner", [bob.user.id]: "member" });
		});

		test("a removed member can be added back and sees the group again", async () => {
			const [owner, bob] = await users(2, "readmit");
			const group = await createGroup(owner, [bob]);
			expect((await owner.api.delete(`/api/v1/groups/${group.id}/members/${bob.user.id}`)).status).toBe(200);
			const back = await owner.api.post(`/api/v1/groups/${group.id}/members`, { userIds: [bob.user.id] });
			expect(back.status).toBe(200);
			expect(back.body.added).toEqual([bob.user.id]);
			expect(await groupAs(bob, group.id)).toMatchObject({ memberCount: 2 });
			expect(await groupConversations(bob)).toEqual([group.conversationId]);
		});
	});

	// ---- POST /groups/:id/leave ---------------------------------------------------------

	describe("leaving", () => {
		test("a member who leaves loses access, and the others see the member count drop", async () => {
			const [owner, bob, carol] = await users(3, "leave");
			const group = await createGroup(owner, [bob, carol]);
			const res = await bob.api.post(`/api/v1/groups/${group.id}/leave`);
			expect(res.status).toBe(200);
			expect(res.body.group).toMatchObject({ id: group.id, memberCount: 2, ownerId: owner.user.id });
			expect(await groupAs(carol, group.id)).toMatchObject({ memberCount: 2, ownerId: owner.user.id });
			expect(Object.keys(await rolesAs(carol, group.id)).sort()).toEqual(ids([owner, carol]));
			expectError(await bob.api.get(`/api/v1/groups/${group.id}`), 404, "GROUP_NOT_FOUND");
			expectError(
				await bob.api.get(`/api/v1/conversations/${group.conversationId}/messages`),
				404,
				"CONVERSATION_NOT_FOUND"
			);
			expect(await groupConversations(bob)).toEqual([]);
		});

		test("leaving twice: the second time answers 404 GROUP_NOT_FOUND and the count drops only once", async () => {
			const [owner, bob, carol] = await users(3, "leavetwice");
			const group = await createGroup(owner, [bob, carol]);
			expect((await bob.api.post(`/api/v1/groups/${group.id}/leave`)).status).toBe(200);
			expectError(await bob.api.post(`/api/v1/groups/${group.id}/leave`), 404, "GROUP_NOT_FOUND");
			expect((await groupAs(owner, group.id)).memberCount).toBe(2);
		});

		test("a member can also take themselves out with DELETE on their own membership", async () => {
			const [owner, bob, carol] = await users(3, "selfremove");
			const group = await createGroup(owner, [bob, carol]);
			const res = await bob.api.delete(`/api/v1/groups/${group.id}/members/${bob.user.id}`);
			expect(res.status).toBe(200);
			expect(res.body.group.memberCount).toBe(2);
			expectError(await bob.api.get(`/api/v1/groups/${group.id}`), 404, "GROUP_NOT_FOUND");
		});

		test("when the owner leaves, the longest-standing admin becomes owner, not a newer admin or an older member", async () => {
			// Registered in reverse so that user IDs alone would pick the wrong successor.
			const [newAdmin, oldAdmin, oldMember, owner] = await users(4, "succession");
			const group = await createGroup(owner, [oldMember]);
			expect(
				(await owner.api.post(`/api/v1/groups/${group.id}/members`, { userIds: [oldAdmin.user.id] })).status
			).toBe(200);
			expect(
				(await owner.api.post(`/api/v1/groups/${group.id}/members`, { userIds: [newAdmin.user.id] })).status
			).toBe(200);
			// Promote the newer one first: seniority in the group counts, not the order of promotion.
			for (const admin of [newAdmin, oldAdmin]) {
				expect(
					(await owner.api.patch(`/api/v1/groups/${group.id}/members/${admin.user.id}`, { role: "admin" }))
						.status
				).toBe(200);
			}

			const res = await owner.api.post(`/api/v1/groups/${group.id}/leave`);
			expect(res.status).toBe(200);
			expect(res.body.group).toMatchObject({ memberCount: 3, ownerId: oldAdmin.user.id });
			expect(await groupAs(oldMember, group.id)).toMatchObject({ memberCount: 3, ownerId: oldAdmin.user.id });
			expect(await rolesAs(newAdmin, group.id)).toEqual({
				[oldAdmin.user.id]: "owner",
				[newAdmin.user.id]: "admin",
				[oldMember.user.id]: "member"
			});
			expectError(await owner.api.get(`/api/v1/groups/${group.id}`), 404, "GROUP_NOT_FOUND");

			// The new owner has the owner's powers.
			const promote = await oldAdmin.api.patch(`/api/v1/groups/${group.id}/members/${oldMember.user.id}`, {
				role: "admin"
			});
			expect(promote.status).toBe(200);
		});

		test("when the owner leaves a group without admins, the earliest member becomes owner", async () => {
			const [lateMember, earlyMember, owner] = await users(3, "heir");
			const group = await createGroup(owner, [earlyMember]);
			expect(
				(await owner.api.post(`/api/v1/groups/${group.id}/members`, { userIds: [lateMember.user.id] })).status
			).toBe(200);

			const res = await owner.api.post(`/api/v1/groups/${group.id}/leave`);
			expect(res.status).toBe(200);
			expect(res.body.group).toMatchObject({ memberCount: 2, ownerId: earlyMember.user.id });
			expect(await groupAs(lateMember, group.id)).toMatchObject({ memberCount: 2, ownerId: earlyMember.user.id });
			expect(await rolesAs(lateMember, group.id)).toEqual({
				[earlyMember.user.id]: "owner",
				[lateMember.user.id]: "member"
			});

			const remove = await earlyMember.api.delete(`/api/v1/groups/${group.id}/members/${lateMember.user.id}`);
			expect(remove.status).toBe(200);
			expect(remove.body.group.memberCount).toBe(1);
		});

		test("when the owner and their heir leave at the same moment, exactly one remaining member becomes owner", async () => {
			const [owner, heir, carol, dave] = await users(4, "heirrace");
			const group = await createGroup(owner, [heir]);
			expect(
				(await owner.api.post(`/api/v1/groups/${group.id}/members`, { userIds: [carol.user.id, dave.user.id] }))
					.status
			).toBe(200);
			const results = await Promise.all([owner, heir].map(a => a.api.post(`/api/v1/groups/${group.id}/leave`)));
			expect(results.map(r => r.status)).toEqual([200, 200]);
			const roles = await rolesAs(carol, group.id);
			expect(Object.keys(roles).sort()).toEqual(ids([carol, dave]));
			const owners = Object.keys(roles).filter(id => roles[id] === "owner");
			expect(owners).toHaveLength(1);
			expect(await groupAs(dave, group.id)).toMatchObject({ memberCount: 2, ownerId: owners[0] });
		});

		test("members leaving at the same moment each lower the member count exactly once", async () => {
			const [owner, ...others] = await users(MAX_MEMBERS, "leaverace");
			const group = await createGroup(owner, others);
			const results = await Promise.all(others.map(o => o.api.post(`/api/v1/groups/${group.id}/leave`)));
			expect(results.map(r => r.status)).toEqual(others.map(() => 200));
			expect(await groupAs(owner, group.id)).toMatchObject({ memberCount: 1, ownerId: owner.user.id });
			expect(await rolesAs(owner, group.id)).toEqual({ [owner.user.id]: "owner" });
		});
	});

	// ---- the group conversation ---------------------------------------------------------

	describe("the group conversation", () => {
		test("every member finds it in their conversation list as a group titled with the group name", async () => {
			const [owner, bob, carol, outsider] = await users(4, "convlist");
			const group = await createGroup(owner, [bob, carol], "Book club");
			for (const member of [owner, bob, carol]) {
				const res = await member.api.get("/api/v1/conversations");
				expect(res.status).toBe(200);
				const row = res.body.conversations.find((c: any) => c.id === group.conversationId);
				expect(row).toMatchObject({
					id: `group_${group.id}`,
					type: "group",
					title: "Book club",
					lastMessage: null,
					unreadCount: 0
				});
			}
			expect(await groupConversations(outsider)).toEqual([]);
		});

		test("members send messages that every member reads; an outsider can neither send nor read", async () => {
			const [owner, bob, outsider] = await users(3, "convsend");
			const group = await createGroup(owner, [bob], "Chatters");
			const path = `/api/v1/conversations/${group.conversationId}/messages`;

			const first = await owner.api.post(path, { clientMsgId: "m-1", type: "text", content: "hello group" });
			expect(first.status).toBe(200);
			expect(first.body.message).toMatchObject({
				conversationId: group.conversationId,
				senderId: owner.user.id,
				content: "hello group",
				seq: 1
			});
			const second = await bob.api.post(path, { clientMsgId: "m-1", type: "text", content: "hi owner" });
			expect(second.status).toBe(200);
			expect(second.body.message).toMatchObject({ senderId: bob.user.id, seq: 2 });

			for (const member of [owner, bob]) {
				const history = await member.api.get(path);
				expect(history.status).toBe(200);
				expect(history.body.messages.map((m: any) => [m.senderId, m.content])).toEqual([
					[owner.user.id, "hello group"],
					[bob.user.id, "hi owner"]
				]);
			}
			const list = await owner.api.get("/api/v1/conversations");
			const row = list.body.conversations.find((c: any) => c.id === group.conversationId);
			expect(row).toMatchObject({ title: "Chatters", lastSeq: 2, unreadCount: 1 });
			expect(row.lastMessage).toMatchObject({ content: "hi owner" });

			expectError(
				await outsider.api.post(path, { clientMsgId: "m-x", type: "text", content: "let me in" }),
				404,
				"CONVERSATION_NOT_FOUND"
			);
			expectError(await outsider.api.get(path), 404, "CONVERSATION_NOT_FOUND");
			expect((await owner.api.get(path)).body.messages).toHaveLength(2);
		});

		test("a member added later gets the conversation in their list and can post to it", async () => {
			const [owner, late] = await users(2, "convlate");
			const group = await createGroup(owner, [], "Latecomers");
			expect(await groupConversations(late)).toEqual([]);
			expect(
				(await owner.api.post(`/api/v1/groups/${group.id}/members`, { userIds: [late.user.id] })).status
			).toBe(200);
			const list = await late.api.get("/api/v1/conversations");
			expect(list.body.conversations.find((c: any) => c.id === group.conversationId)).toMatchObject({
				type: "group",
				title: "Latecomers"
			});
			const sent = await late.api.post(`/api/v1/conversations/${group.conversationId}/messages`, {
				clientMsgId: "late-1",
				type: "text",
				content: "made it"
			});
			expect(sent.status).toBe(200);
		});
	});
});
