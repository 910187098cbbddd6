import type { ServiceSchema } from "moleculer";
import MaintenanceService from "../../../../services/task/maintenance.service";
import { startWithMocks } from "../../../helpers/mock-broker";

describe("task.maintenance (with repo mocked)", () => {
	test("pruning guests takes each batch's world membership, then its sessions, then the accounts, until a short batch", async () => {
		const batches = [["1", "2"], ["3", "4"], ["5"]];
		const svc = await startWithMocks(MaintenanceService as ServiceSchema, {
			"repo.users.idleGuests": () => batches.shift() ?? [],
			"repo.members.leaveWorld": ({ userIds }) => userIds.length,
			"repo.sessions.removeForUsers": ({ userIds }) => userIds.length,
			// One of the first batch refreshed meanwhile: repo keeps it.
			"repo.users.removeIdleGuests": ({ ids }) => (ids.includes("1") ? ids.length - 1 : ids.length)
		});
		try {
			expect(await svc.call("task.maintenance.pruneGuests", { batchSize: 2 })).toBe(4);
			const order = svc.calls.filter(c => c.action.startsWith("repo.")).map(c => [c.action, c.params]);
			const round = (ids: string[]) => [
				["repo.users.idleGuests", { before: expect.any(String), limit: 2 }],
				["repo.members.leaveWorld", { userIds: ids }],
				["repo.sessions.removeForUsers", { userIds: ids }],
				["repo.users.removeIdleGuests", { ids, before: expect.any(String) }]
			];
			expect(order).toEqual([...round(["1", "2"]), ...round(["3", "4"]), ...round(["5"])]);
		} finally {
			await svc.stop();
		}
	});

	test("pruning stops when a full batch removes nobody, instead of asking for the same guests forever", async () => {
		const svc = await startWithMocks(MaintenanceService as ServiceSchema, {
			"repo.users.idleGuests": () => ["1", "2"],
			"repo.members.leaveWorld": () => 0,
			"repo.sessions.removeForUsers": () => 0,
			"repo.users.removeIdleGuests": () => 0
		});
		try {
			expect(await svc.call("task.maintenance.pruneGuests", { batchSize: 2 })).toBe(0);
			expect(svc.callsTo("repo.users.idleGuests")).toHaveLength(1);
		} finally {
			await svc.stop();
		}
	});

	test("pruning sessions deletes those ended a week ago and returns how many", async () => {
		// The other repo services only have to exist: the service waits for them.
		const svc = await startWithMocks(MaintenanceService as ServiceSchema, {
			"repo.sessions.prune": () => 3,
			"repo.users.idleGuests": () => [],
			"repo.members.leaveWorld": () => 0
		});
		try {
			expect(await svc.call("task.maintenance.pruneSessions", {})).toBe(3);
			const [{ before }] = svc.callsTo("repo.sessions.prune");
			expect(Date.now() - Date.parse(before)).toBeGreaterThanOrEqual(7 * 24 * 3600 * 1000);
		} finally {
			await svc.stop();
		}
	});
});
