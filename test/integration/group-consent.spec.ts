import { startGoChat, RunningGoChat } from "../helpers/gochat";
import { Account, Api, Reply, register } from "../helpers/http";

/** Users choose who may add them to groups, and can block a group for good. */
describe("consent to be added to groups", () => {
	let gochat: RunningGoChat;
	let api: Api;

	beforeAll(async () => {
		gochat = await startGoChat();
		api = new Api(gochat.baseUrl);
	});
	afterAll(() => gochat.stop());

	const setPolicy = async (account: Account, groupAddPolicy: string) => {
		const res = await account.api.patch("/api/v1/users/me", { groupAddPolicy });
		expect(res.status).toBe(200);
		expect(res.body.user.groupAddPolicy).toBe(groupAddPolicy);
	};
	const createGroup = (owner: Account, members: Account[]) =>
		owner.api.post("/api/v1/groups", { name: "Party", memberIds: members.map(m => m.user.id) });
	const add = (adder: Account, groupId: string, members: Account[]) =>
		adder.api.post(`/api/v1/groups/${groupId}/members`, { userIds: members.map(m => m.user.id) });
	const groupsOf = async (account: Account) => {
		const res = await account.api.get("/api/v1/conversations");
		expect(res.status).toBe(200);
		return res.body.conversations
			.filter((c: { type: string }) => c.type === "group")
			.map((c: { id: string }) => c.id);
	};
	const memberIds = async (viewer: Account, groupId: string) => {
		const res = await viewer.api.get(`/api/v1/groups/${groupId}/members`);
		expect(res.status).toBe(200);
		return res.body.members.map((m: { userId: string }) => m.userId).sort();
	};
	const expectRefusal = (res: Reply, refused: Array<{ userId: string; reason: string }>) => {
		expect(res.status).toBe(403);
		expect(res.body.error).toMatchObject({ code: "FORBIDDEN", details: { refused } });
	};

	describe("the policy setting", () => {
		test("is 'everyone' by default, shown in GET /users/me and in no one's public profile", async () => {
			const [alice, bob] = [await register(api, "alice"), await register(api, "bob")];
			expect((await alice.api.get("/api/v1/users/me")).body.user.groupAddPolicy).toBe("everyone");
			expect((await bob.api.get(`/api/v1/users/${alice.user.id}`)).body.user).not.toHaveProperty(
				"groupAddPolicy"
			);
			expect((await alice.api.get(`/api/v1/users/${alice.user.id}`)).body.user).not.toHaveProperty(
				"groupAddPolicy"
			);
			const group = (await createGroup(bob, [alice])).body.group;
			const members = (await bob.api.get(`/api/v1/groups/${group.id}/members`)).body.members;
			for (const member of members) expect(member.user).not.toHaveProperty("groupAddPolicy");
			const search = await bob.api.get(`/api/v1/users?q=${alice.user.username}`);
			expect(search.body.users[0]).not.toHaveProperty("groupAddPolicy");
		});

		test("changes with PATCH /users/me and stays; other fields stay as they were", async () => {
			const alice = await register(api, "setter");
			for (const policy of ["nobody", "contacts", "everyone"]) {
				await setPolicy(alice, policy);
				expect((await alice.api.get("/api/v1/users/me")).body.user).toMatchObject({
					groupAddPolicy: policy,
					displayName: "setter"
				});
			}
		});

		test.each([
			[{ groupAddPolicy: "friends" }],
			[{ groupAddPolicy: null }],
			[{ groupAddPolicy: 1 }],
			[{ groupAddPolicy: "" }]
		])("%j is refused with 400 and changes nothing", async body => {
			const alice = await register(api, "badpolicy");
			await setPolicy(alice, "contacts");
			const res = await alice.api.patch("/api/v1/users/me", body);
			expect([res.status, res.body.error.code]).toEqual([400, "INVALID_INPUT"]);
			expect((await alice.api.get("/api/v1/users/me")).body.user.groupAddPolicy).toBe("contacts");
		});
	});

	describe("'nobody'", () => {
		test("creating a group with only such users is refused with 403, listing them, and creates nothing", async () => {
			const [owner, shy] = [await register(api, "owner"), await register(api, "shy")];
			await setPolicy(shy, "nobody");
			const res = await createGroup(owner, [shy]);
			expectRefusal(res, [{ userId: shy.user.id, reason: "policy" }]);
			expect(await groupsOf(owner)).toEqual([]);
			expect(await groupsOf(shy)).toEqual([]);
		});

		test("creating a group with them and others adds the others and lists the refused", async () => {
			const [owner, shy, open] = [
				await register(api, "owner"),
				await register(api, "shy"),
				await register(api, "open")
			];
			await setPolicy(shy, "nobody");
			const res = await createGroup(owner, [shy, open]);
			expect(res.status).toBe(201);
			expect(res.body.group.memberCount).toBe(2);
			expect(res.body.refused).toEqual([{ userId: shy.user.id, reason: "policy" }]);
			expect(await memberIds(owner, res.body.group.id)).toEqual([owner.user.id, open.user.id].sort());
			expect(await groupsOf(shy)).toEqual([]);
		});

		test("adding them is refused with 403; adding them with others adds only the others", async () => {
			const [owner, shy, open] = [
				await register(api, "owner"),
				await register(api, "shy"),
				await register(api, "open")
			];
			await setPolicy(shy, "nobody");
			const group = (await createGroup(owner, [])).body.group;
			expectRefusal(await add(owner, group.id, [shy]), [{ userId: shy.user.id, reason: "policy" }]);
			const mixed = await add(owner, group.id, [shy, open]);
			expect(mixed.status).toBe(200);
			expect(mixed.body).toMatchObject({
				added: [open.user.id],
				refused: [{ userId: shy.user.id, reason: "policy" }]
			});
			expect(mixed.body.group.memberCount).toBe(2);
			expect(await memberIds(owner, group.id)).toEqual([owner.user.id, open.user.id].sort());
		});

		test("a user who allows everyone is added and the reply lists no refusals", async () => {
			const [owner, open] = [await register(api, "owner"), await register(api, "open")];
			const created = await createGroup(owner, [open]);
			expect(created.status).toBe(201);
			expect(created.body.refused).toEqual([]);
			const again = await add(owner, created.body.group.id, [open]);
			expect(again.body).toMatchObject({ added: [], refused: [] });
		});
	});

	describe("'contacts'", () => {
		test("only people with a 1:1 conversation with them may add them, whoever opened it", async () => {
			const [friend, foe, picky] = [
				await register(api, "friend"),
				await register(api, "foe"),
				await register(api, "picky")
			];
			await setPolicy(picky, "contacts");
			expectRefusal(await createGroup(foe, [picky]), [{ userId: picky.user.id, reason: "policy" }]);
			expectRefusal(await createGroup(friend, [picky]), [{ userId: picky.user.id, reason: "policy" }]);

			expect((await picky.api.post("/api/v1/conversations/direct", { userId: friend.user.id })).status).toBe(201);
			const created = await createGroup(friend, [picky]);
			expect(created.status).toBe(201);
			expect(created.body.refused).toEqual([]);

			// A member of that group who is not picky's contact cannot add them elsewhere.
			const foeGroup = (await createGroup(foe, [])).body.group;
			expectRefusal(await add(foe, foeGroup.id, [picky]), [{ userId: picky.user.id, reason: "policy" }]);
		});

		test("an admin who is a contact may add them to a group whose owner is not", async () => {
			const [owner, admin, picky] = [
				await register(api, "owner"),
				await register(api, "admin"),
				await register(api, "picky")
			];
			await setPolicy(picky, "contacts");
			await admin.api.post("/api/v1/conversations/direct", { userId: picky.user.id });
			const group = (await createGroup(owner, [admin])).body.group;
			await owner.api.patch(`/api/v1/groups/${group.id}/members/${admin.user.id}`, { role: "admin" });
			expectRefusal(await add(owner, group.id, [picky]), [{ userId: picky.user.id, reason: "policy" }]);
			const byAdmin = await add(admin, group.id, [picky]);
			expect(byAdmin.body).toMatchObject({ added: [picky.user.id], refused: [] });
		});
	});

	describe("blocking a group", () => {
		test("a member who blocks leaves, and nobody can add them again until they unblock", async () => {
			const [owner, admin, quitter] = [
				await register(api, "owner"),
				await register(api, "admin"),
				await register(api, "quitter")
			];
			const group = (await createGroup(owner, [admin, quitter])).body.group;
			await owner.api.patch(`/api/v1/groups/${group.id}/members/${admin.user.id}`, { role: "admin" });

			const blocked = await quitter.api.post(`/api/v1/groups/${group.id}/block`);
			expect(blocked.status).toBe(200);
			expect(blocked.body).toEqual({ groupId: group.id, blocked: true, left: true });
			expect(await groupsOf(quitter)).toEqual([]);
			expect(await memberIds(owner, group.id)).toEqual([owner.user.id, admin.user.id].sort());
			expect((await owner.api.get(`/api/v1/groups/${group.id}`)).body.group.memberCount).toBe(2);
			expect((await quitter.api.get(`/api/v1/groups/${group.id}`)).status).toBe(404);

			expectRefusal(await add(owner, group.id, [quitter]), [{ userId: quitter.user.id, reason: "blocked" }]);
			expectRefusal(await add(admin, group.id, [quitter]), [{ userId: quitter.user.id, reason: "blocked" }]);
			expect(await groupsOf(quitter)).toEqual([]);

			// Blocking one group says nothing about others.
			const other = await createGroup(owner, [quitter]);
			expect(other.status).toBe(201);
			expect(other.body.refused).toEqual([]);

			const unblocked = await quitter.api.delete(`/api/v1/groups/${group.id}/block`);
			expect(unblocked.status).toBe(200);
			expect(unblocked.body).toEqual({ groupId: group.id, blocked: false });
			expect(await memberIds(owner, group.id)).toEqual([owner.user.id, admin.user.id].sort());
			expect((await add(owner, group.id, [quitter])).body).toMatchObject({
				added: [quitter.user.id],
				refused: []
			});
		});

		test("a block outranks the policy and is reported as 'blocked'", async () => {
			const [owner, picky] = [await register(api, "owner"), await register(api, "picky")];
			const group = (await createGroup(owner, [picky])).body.group;
			await picky.api.post(`/api/v1/groups/${group.id}/block`);
			await setPolicy(picky, "nobody");
			expectRefusal(await add(owner, group.id, [picky]), [{ userId: picky.user.id, reason: "blocked" }]);
		});

		test("a group one is not in can be blocked ahead of time; blocking twice is harmless", async () => {
			const [owner, wary] = [await register(api, "owner"), await register(api, "wary")];
			const group = (await createGroup(owner, [])).body.group;
			for (let i = 0; i < 2; i++) {
				const res = await wary.api.post(`/api/v1/groups/${group.id}/block`);
				expect(res.body).toEqual({ groupId: group.id, blocked: true, left: false });
			}
			expectRefusal(await add(owner, group.id, [wary]), [{ userId: wary.user.id, reason: "blocked" }]);
			expect(await memberIds(owner, group.id)).toEqual([owner.user.id]);
		});

		test("an owner who blocks hands the group to the longest-standing admin", async () => {
			const [owner, admin, member] = [
				await register(api, "owner"),
				await register(api, "admin"),
				await register(api, "member")
			];
			const group = (await createGroup(owner, [admin, member])).body.group;
			await owner.api.patch(`/api/v1/groups/${group.id}/members/${admin.user.id}`, { role: "admin" });
			expect((await owner.api.post(`/api/v1/groups/${group.id}/block`)).body.left).toBe(true);
			const after = await admin.api.get(`/api/v1/groups/${group.id}`);
			expect(after.body.group).toMatchObject({ ownerId: admin.user.id, memberCount: 2 });
			expectRefusal(await add(admin, group.id, [owner]), [{ userId: owner.user.id, reason: "blocked" }]);
		});

		test("a block racing with adds always ends with the user outside the group", async () => {
			const [owner, target] = [await register(api, "owner"), await register(api, "racer")];
			const group = (await createGroup(owner, [])).body.group;
			const adds = Array.from({ length: 5 }, () => add(owner, group.id, [target]));
			const block = target.api.post(`/api/v1/groups/${group.id}/block`);
			const results = await Promise.all([...adds, block]);
			for (const res of results) expect([200, 403]).toContain(res.status);
			expect(await memberIds(owner, group.id)).toEqual([owner.user.id]);
			expect((await owner.api.get(`/api/v1/groups/${group.id}`)).body.group.memberCount).toBe(1);
			expect(await groupsOf(target)).toEqual([]);
		});

		test("malformed group IDs are refused with 400", async () => {
			const alice = await register(api, "malformed");
			for (const id of ["abc", "0123", "1%00"]) {
				expect((await alice.api.post(`/api/v1/groups/${id}/block`)).status).toBe(400);
				expect((await alice.api.delete(`/api/v1/groups/${id}/block`)).status).toBe(400);
			}
		});
	});
});
