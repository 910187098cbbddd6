import type { Context, ServiceSchema } from "moleculer";
import { FANOUT_MESSAGE_CHANNEL, FanoutJob } from "../../../../lib/contracts/channels";
import type { Push } from "../../../../lib/push-coalescer";
import type { Membership } from "../../../../lib/types";
import DeliveryService from "../../../../services/logic/delivery.service";
import { sampleMessage as message } from "../../../helpers/fanout";
import { MockedService, startWithMocks } from "../../../helpers/mock-broker";

const members = (count: number): Membership[] =>
	Array.from({ length: count }, (_, i) => ({
		conversationId: "group_7",
		userId: String(i + 1),
		role: "member",
		readSeq: 0,
		joinedAt: ""
	}));

describe("delivery (logic, with repo, gateway and queue mocked)", () => {
	let svc: MockedService;
	let groupSize = 3;
	const queued: Array<{ job: FanoutJob; requestID: string | null }> = [];
	const pushed: Push[] = [];

	beforeEach(async () => {
		queued.length = 0;
		pushed.length = 0;
		svc = await startWithMocks(
			DeliveryService as ServiceSchema,
			{
				"repo.members.list": ({ limit }) => members(Math.min(groupSize, limit)),
				"repo.presence.locate": ({ userIds }) =>
					Object.fromEntries(userIds.map(id => [id, [svc.broker.nodeID]])),
				"api.push": ({ pushes }) => {
					pushed.push(...pushes);
					return pushes.length;
				}
			},
			{
				env: { GROUP_INLINE_FANOUT: "5" },
				channels: true,
				extra: [
					{
						name: "probe",
						channels: {
							[FANOUT_MESSAGE_CHANNEL]: (ctx: Context<FanoutJob>) => {
								queued.push({ job: ctx.params, requestID: ctx.requestID });
							}
						}
					}
				]
			}
		);
	});
	afterEach(() => svc.stop());

	const deliver = (conversationId: string) =>
		svc.broker.call(
			"delivery.message",
			{ message: message(conversationId), exceptSocketId: "s1" },
			{ requestID: "req-42" }
		);
	const untilQueued = async () => {
		for (let i = 0; queued.length === 0 && i < 1000; i++) await new Promise(resolve => setImmediate(resolve));
	};

	test("a 1:1 message is pushed at once to both members, reading no member list", async () => {
		expect(await deliver("single_1_2")).toEqual({ queued: false });
		expect(pushed).toEqual([
			expect.objectContaining({ userIds: ["1", "2"], event: "message:new", exceptSocketId: "s1" })
		]);
		expect(svc.callsTo("repo.members.list")).toEqual([]);
	});

	test("a group up to GROUP_INLINE_FANOUT members is pushed at once; its member list is read once and remembered", async () => {
		groupSize = 5;
		expect(await deliver("group_7")).toEqual({ queued: false });
		expect(await deliver("group_7")).toEqual({ queued: false });
		expect(pushed.map(p => p.userIds)).toEqual([
			["1", "2", "3", "4", "5"],
			["1", "2", "3", "4", "5"]
		]);
		// One more than the limit tells "small enough" in the same read.
		expect(svc.callsTo("repo.members.list")).toEqual([{ conversationId: "group_7", limit: 6 }]);
		expect(queued).toEqual([]);
	});

	test("a larger group goes to the queue with the sender's request ID", async () => {
		groupSize = 6;
		expect(await deliver("group_7")).toEqual({ queued: true });
		await untilQueued();
		expect(queued).toEqual([{ job: { message: message("group_7"), exceptSocketId: "s1" }, requestID: "req-42" }]);
		expect(pushed).toEqual([]);
	});

	test("a world message goes to the queue with the sender's request ID, reading no member list", async () => {
		expect(await deliver("world")).toEqual({ queued: true });
		await untilQueued();
		expect(queued).toEqual([{ job: { message: message("world"), exceptSocketId: "s1" }, requestID: "req-42" }]);
		expect(svc.callsTo("repo.members.list")).toEqual([]);
	});

	test("the queue's channel carries the namespace once", async () => {
		const adapter = (svc.broker as unknown as { channelAdapter: { publish(name: string): Promise<void> } })
			.channelAdapter;
		const publish = jest.spyOn(adapter, "publish");
		await deliver("world");
		expect(publish.mock.calls.map(([name]) => name)).toEqual(["gochat.fanout.message"]);
	});

	test("a members' event (typing) follows the same rule: the small room's others get it, large rooms and the world nobody", async () => {
		groupSize = 3;
		const typing = (conversationId: string) =>
			svc.call("delivery.toMembers", {
				conversationId,
				event: "typing",
				payload: { conversationId, userId: "1" },
				exceptUserId: "1"
			});
		expect((await typing("group_7")).recipients).toBe(2);
		expect(pushed).toEqual([
			{ userIds: ["2", "3"], event: "typing", payload: { conversationId: "group_7", userId: "1" } }
		]);
		expect((await typing("world")).recipients).toBe(0);
		groupSize = 6;
		svc.broker.broadcastLocal("members.changed", { conversationId: "group_7" });
		expect((await typing("group_7")).recipients).toBe(0);
		expect(pushed).toHaveLength(1);
		expect(queued).toEqual([]);
	});
});
