import { Account, Api, register } from "../helpers/http";
import { RunningGoChat, startGoChat, waitForServiceOn } from "../helpers/gochat";

/**
 * Profiles, groups and roles are cached by repo (Moleculer's cacher: in memory, or Redis with
 * TEST_REDIS_URL) and logic; a change must be visible at once to everyone who read it before,
 * on the node that made it and on another node of the cluster.
 */
describe("cached profiles, groups and memberships", () => {
	let a: RunningGoChat;
	let b: RunningGoChat;
	let onA: Api;
	let onB: Api;

	beforeAll(async () => {
		a = await startGoChat({}, { cluster: true });
		b = await startGoChat({}, { join: a });
		// Each node must know the other's repo services, or their cache cleaning events.
		const repo = ["repo.users", "repo.groups", "repo.members"];
		await Promise.all(
			repo.flatMap(name => [
				waitForServiceOn(a.broker, name, b.broker.nodeID),
				waitForServiceOn(b.broker, name, a.broker.nodeID)
			])
		);
		onA = new Api(a.baseUrl);
		onB = new Api(b.baseUrl);
	});
	afterAll(async () => {
		await b?.stop();
		await a?.stop();
	});

	/** The same account, talking to node B. */
	const viaB = (account: Account) => onB.as(account.accessToken);

	async function group(owner: Account, members: Account[]): Promise<{ id: string; conversationId: string }> {
		const res = await owner.api.post("/api/v1/groups", { name: "Cached", memberIds: members.map(m => m.user.id) });
		expect(res.status).toBe(201);
		return res.body.group;
	}

	const groupAs = async (api: Api, id: string) => (await api.get(`/api/v1/groups/${id}`)).body.group;
	const historyStatus = async (api: Api, conversationId: string) =>
		(await api.get(`/api/v1/conversations/${conversationId}/messages`)).status;

	test("a profile change is seen at once by whoever read the profile before", async () => {
		const alice = await register(onA, "alice");
		const bob = await register(onA, "bob");
		const path = `/api/v1/users/${alice.user.id}`;
		expect((await bob.api.get(path)).body.user.displayName).toBe("alice");
		expect((await viaB(bob).get(path)).body.user.displayName).toBe("alice");

		expect((await alice.api.patch("/api/v1/users/me", { displayName: "Alice B." })).status).toBe(200);
		expect((await bob.api.get(path)).body.user.displayName).toBe("Alice B.");
		expect((await viaB(bob).get(path)).body.user.displayName).toBe("Alice B.");
	});

	test("a group's member count and owner are seen at once after members change", async () => {
		const [owner, bob, carol] = [
			await register(onA, "owner"),
			await register(onA, "bob"),
			await register(onA, "carol")
		];
		const { id } = await group(owner, [bob]);
		expect((await groupAs(bob.api, id)).memberCount).toBe(2);
		expect((await groupAs(viaB(bob), id)).memberCount).toBe(2);

		expect((await owner.api.post(`/api/v1/groups/${id}/members`, { userIds: [carol.user.id] })).status).toBe(200);
		expect((await groupAs(bob.api, id)).memberCount).toBe(3);
		expect((await groupAs(viaB(bob), id)).memberCount).toBe(3);

		expect((await owner.api.post(`/api/v1/groups/${id}/leave`)).status).toBe(200);
		const after = await groupAs(viaB(carol), id);
		expect(after.memberCount).toBe(2);
		expect(after.ownerId).toBe(bob.user.id);
		expect((await groupAs(carol.api, id)).ownerId).toBe(bob.user.id);
	});

	test("joining and leaving a conversation is seen at once by the access check", async () => {
		const [owner, bob, dave] = [
			await register(onA, "owner"),
			await register(onA, "bob"),
			await register(onA, "dave")
		];
		const { id, conversationId } = await group(owner, [bob]);
		// Dave is refused first, on both nodes, so a refusal may be remembered.
		expect(await historyStatus(dave.api, conversationId)).toBe(404);
		expect(await historyStatus(viaB(dave), conversationId)).toBe(404);

		expect((await owner.api.post(`/api/v1/groups/${id}/members`, { userIds: [dave.user.id] })).status).toBe(200);
		expect(await historyStatus(dave.api, conversationId)).toBe(200);
		expect(await historyStatus(viaB(dave), conversationId)).toBe(200);

		expect((await owner.api.delete(`/api/v1/groups/${id}/members/${dave.user.id}`)).status).toBe(200);
		expect(await historyStatus(dave.api, conversationId)).toBe(404);
		expect(await historyStatus(viaB(dave), conversationId)).toBe(404);
	});
});
