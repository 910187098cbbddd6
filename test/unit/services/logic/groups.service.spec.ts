import type { ServiceSchema } from "moleculer";
import { toHttpError } from "../../../../lib/errors";
import type { Group, Membership, MemberRole } from "../../../../lib/types";
import GroupsService from "../../../../services/logic/groups.service";
import { MockedService, startWithMocks } from "../../../helpers/mock-broker";

const group: Group = {
	id: "7",
	name: "seven",
	avatarUrl: null,
	ownerId: "1",
	memberCount: 3,
	conversationId: "group_7",
	createdAt: "",
	updatedAt: ""
};
const roles: Record<string, MemberRole> = { 1: "owner", 2: "admin", 3: "member" };
const membership = (userId: string): Membership | null =>
	roles[userId] ? { conversationId: "group_7", userId, role: roles[userId], readSeq: 0, joinedAt: "" } : null;
const codeOf = (err: unknown) => toHttpError(err).body.error.code;

describe("groups (logic, with repo mocked)", () => {
	let svc: MockedService;

	beforeEach(async () => {
		svc = await startWithMocks(
			GroupsService as ServiceSchema,
			{
				"repo.groups.get": ({ id }) => (id === "7" ? group : null),
				"repo.members.get": ({ userId }) => membership(userId),
				"repo.members.list": () => [membership("1")!, membership("2")!],
				"repo.users.getMany": ({ ids }) =>
					ids
						.filter(id => id !== "404")
						.map(id => ({
							id,
							username: `u${id}`,
							displayName: id,
							avatarUrl: null,
							isGuest: false,
							createdAt: ""
						})),
				"repo.members.createGroup": p => ({ group: { ...group, id: p.id, name: p.name }, refused: [] }),
				"repo.members.addToGroup": p => ({ group, added: p.userIds, refused: [] }),
				"repo.members.removeFromGroup": ({ userId }) => ({ group, removed: membership(userId)! }),
				"repo.members.blockGroup": () => ({ left: true }),
				"repo.members.setRole": ({ userId, role }) => ({ ...membership(userId)!, role })
			},
			{ env: { GROUP_MAX_MEMBERS: "4" } }
		);
	});
	afterEach(() => svc.stop());

	test("a group is created through repo.members with the owner left out of the member list and duplicates dropped", async () => {
		await svc.call("groups.create", { name: "team", memberIds: ["1", "2", "2", "3"] }, { userId: "1" });
		expect(svc.callsTo("repo.members.createGroup")).toEqual([
			{ id: expect.any(String), name: "team", ownerId: "1", memberIds: ["2", "3"], maxMembers: 4 }
		]);
	});

	test("a group over GROUP_MAX_MEMBERS or with unknown users is refused before anything is written", async () => {
		await expect(
			svc.call("groups.create", { name: "big", memberIds: ["2", "3", "4", "5"] }, { userId: "1" }).catch(codeOf)
		).resolves.toBe("GROUP_FULL");
		await expect(
			svc.call("groups.create", { name: "ghost", memberIds: ["404"] }, { userId: "1" }).catch(codeOf)
		).resolves.toBe("USER_NOT_FOUND");
		expect(svc.callsTo("repo.members.createGroup")).toEqual([]);
	});

	test("members are listed through repo.members.list by the group's conversation", async () => {
		const { members, nextCursor } = await svc.call("groups.members", { id: "7", limit: 2 }, { userId: "3" });
		expect(members.map(m => [m.userId, m.role])).toEqual([
			["1", "owner"],
			["2", "admin"]
		]);
		expect(nextCursor).toBe("2");
		expect(svc.callsTo("repo.members.list")).toEqual([
			{ conversationId: "group_7", limit: 2, afterUserId: undefined }
		]);
	});

	test("a non-member hears GROUP_NOT_FOUND; a plain member cannot add or remove others; nobody removes the owner", async () => {
		await expect(svc.call("groups.get", { id: "7" }, { userId: "9" }).catch(codeOf)).resolves.toBe(
			"GROUP_NOT_FOUND"
		);
		await expect(
			svc.call("groups.addMembers", { id: "7", userIds: ["5"] }, { userId: "3" }).catch(codeOf)
		).resolves.toBe("FORBIDDEN");
		await expect(
			svc.call("groups.removeMember", { id: "7", userId: "2" }, { userId: "3" }).catch(codeOf)
		).resolves.toBe("FORBIDDEN");
		await expect(
			svc.call("groups.removeMember", { id: "7", userId: "1" }, { userId: "2" }).catch(codeOf)
		).resolves.toBe("FORBIDDEN");
		expect(svc.callsTo("repo.members.addToGroup")).toEqual([]);
		expect(svc.callsTo("repo.members.removeFromGroup")).toEqual([]);
	});

	test("an admin adds and removes members; anyone leaves or blocks; only the owner sets roles", async () => {
		await svc.call("groups.addMembers", { id: "7", userIds: ["5"] }, { userId: "2" });
		expect(svc.callsTo("repo.members.addToGroup")).toEqual([
			{ groupId: "7", adderId: "2", userIds: ["5"], maxMembers: 4 }
		]);
		await svc.call("groups.removeMember", { id: "7", userId: "3" }, { userId: "2" });
		await svc.call("groups.leave", { id: "7" }, { userId: "3" });
		expect(svc.callsTo("repo.members.removeFromGroup")).toEqual([
			{ groupId: "7", userId: "3" },
			{ groupId: "7", userId: "3" }
		]);
		expect(await svc.call("groups.block", { id: "99" }, { userId: "3" })).toEqual({
			groupId: "99",
			blocked: true,
			left: true
		});
		await expect(
			svc.call("groups.setRole", { id: "7", userId: "3", role: "admin" }, { userId: "2" }).catch(codeOf)
		).resolves.toBe("FORBIDDEN");
		expect(
			(await svc.call("groups.setRole", { id: "7", userId: "3", role: "admin" }, { userId: "1" })).member.role
		).toBe("admin");
	});
});
