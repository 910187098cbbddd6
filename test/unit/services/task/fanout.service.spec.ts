import type { ServiceSchema } from "moleculer";
import {
	FANOUT_BATCH_CHANNEL,
	FANOUT_DEAD_LETTER_CHANNEL,
	FANOUT_MESSAGE_CHANNEL
} from "../../../../lib/contracts/channels";
import type { NewDeadLetter, StoredDeadLetter } from "../../../../lib/contracts/repo";
import type { Membership } from "../../../../lib/types";
import DeliveryService from "../../../../services/logic/delivery.service";
import MessagesService from "../../../../services/logic/messages.service";
import FanoutService, { FANOUT_BATCH_SIZE } from "../../../../services/task/fanout.service";
import { nextDeadLetter, sampleMessage as message } from "../../../helpers/fanout";
import { MockedService, Mocks, startWithMocks } from "../../../helpers/mock-broker";

async function until(condition: () => boolean) {
	for (let i = 0; !condition(); i++) {
		if (i > 2000) throw new Error("condition never held");
		await new Promise(resolve => setTimeout(resolve, 1));
	}
}

/** An in-memory repo.deadLetters. */
function deadLetterStore(): { letters: StoredDeadLetter[]; mocks: Mocks } {
	const letters: StoredDeadLetter[] = [];
	let next = 1;
	return {
		letters,
		mocks: {
			"repo.deadLetters.add": (letter: NewDeadLetter) => {
				const stored = { ...letter, id: String(next++), createdAt: "" };
				letters.push(stored);
				return stored;
			},
			"repo.deadLetters.list": ({ limit, afterId }) =>
				letters.filter(l => afterId === undefined || Number(l.id) > Number(afterId)).slice(0, limit),
			"repo.deadLetters.count": () => letters.length,
			"repo.deadLetters.remove": ({ ids }) => {
				const before = letters.length;
				letters.splice(0, letters.length, ...letters.filter(l => !ids.includes(l.id)));
				return before - letters.length;
			}
		}
	};
}

describe("task.fanout (with repo and delivery mocked, on the in-process queue)", () => {
	let svc: MockedService;
	let store: ReturnType<typeof deadLetterStore>;
	let failPushes = false;

	beforeEach(async () => {
		failPushes = false;
		store = deadLetterStore();
		svc = await startWithMocks(
			FanoutService as ServiceSchema,
			{
				...store.mocks,
				"repo.members.list": ({ afterUserId }): Membership[] => {
					const start = afterUserId === undefined ? 0 : Number(afterUserId);
					const count = Math.max(0, Math.min(FANOUT_BATCH_SIZE, 1500 - start));
					return Array.from({ length: count }, (_, i) => ({
						conversationId: "group_7",
						userId: String(start + i + 1),
						role: "member",
						readSeq: 0,
						joinedAt: ""
					}));
				},
				"delivery.toUsers": ({ userIds }) => {
					if (failPushes) throw new Error("gateway down");
					return { nodes: 1, recipients: userIds.length, failedNodes: 0 };
				}
			},
			{ channels: true }
		);
	});
	afterEach(() => svc.stop());

	test("a large group's message becomes one batch per 1,000 members, each pushed with the sender's request ID", async () => {
		const ctx = { requestID: "req-7", id: "parent", tracing: false, level: 1, meta: {} };
		await svc.broker.sendToChannel(FANOUT_MESSAGE_CHANNEL, { message: message("group_7") }, { ctx });
		await until(() => svc.callsTo("delivery.toUsers").length === 2);
		expect(svc.callsTo("delivery.toUsers").map(p => p.userIds.length)).toEqual([1000, 500]);
		expect(svc.calls.filter(c => c.action === "delivery.toUsers").map(c => c.requestID)).toEqual([
			"req-7",
			"req-7"
		]);
		let stats = await svc.call("task.fanout.stats", {});
		for (let i = 0; stats.batches < 2 && i < 1000; i++) stats = await svc.call("task.fanout.stats", {});
		expect(stats).toEqual({ nodeId: svc.broker.nodeID, messages: 1, batches: 2, deadLettered: 0, inFlight: 0 });
	});

	test("a batch failing every attempt is stored as a dead letter with its channel, payload, error and attempts", async () => {
		failPushes = true;
		const dead = nextDeadLetter(svc.broker);
		const job = { message: message("group_7"), userIds: ["1"] };
		await svc.broker.sendToChannel(FANOUT_BATCH_CHANNEL, job);
		expect((await dead).channel).toBe(FANOUT_BATCH_CHANNEL);
		expect(store.letters).toEqual([
			{ id: "1", channel: FANOUT_BATCH_CHANNEL, payload: job, error: "gateway down", attempts: 5, createdAt: "" }
		]);
		expect(await svc.call("task.fanout.deadLetters", { limit: 10 })).toEqual({ total: 1, letters: store.letters });
		expect((await svc.call("task.fanout.stats", {})).deadLettered).toBe(1);
	}, 15_000);

	test("replay sends each letter back to its channel, then forgets it; letters of unknown channels stay", async () => {
		const job = { message: message("group_7"), userIds: ["1", "2"] };
		const add = (channel: string) =>
			svc.broker.sendToChannel(FANOUT_DEAD_LETTER_CHANNEL, {
				channel,
				payload: job,
				error: "x",
				attemptedAt: []
			});
		await add(FANOUT_BATCH_CHANNEL);
		await add(FANOUT_BATCH_CHANNEL);
		await add("unknown");
		await until(() => store.letters.length === 3);

		expect(await svc.call("task.fanout.replay", { ids: ["1"] })).toBe(1);
		await until(() => svc.callsTo("delivery.toUsers").length === 1);
		expect(svc.callsTo("delivery.toUsers")[0].userIds).toEqual(["1", "2"]);
		expect(store.letters.map(l => l.id)).toEqual(["2", "3"]);

		expect(await svc.call("task.fanout.replay", {})).toBe(1);
		await until(() => svc.callsTo("delivery.toUsers").length === 2);
		expect(store.letters.map(l => l.channel)).toEqual(["unknown"]);
	});

	test("drop forgets the given letters, or all of them, without sending any", async () => {
		for (let i = 0; i < 3; i++) {
			await svc.broker.sendToChannel(FANOUT_DEAD_LETTER_CHANNEL, {
				channel: FANOUT_BATCH_CHANNEL,
				payload: {},
				error: "x",
				attemptedAt: []
			});
		}
		await until(() => store.letters.length === 3);
		expect(await svc.call("task.fanout.drop", { ids: ["2"] })).toBe(1);
		expect(store.letters.map(l => l.id)).toEqual(["1", "3"]);
		expect(await svc.call("task.fanout.drop", {})).toBe(2);
		expect(store.letters).toEqual([]);
		expect(svc.callsTo("delivery.toUsers")).toEqual([]);
	});
});

describe("a world message's request ID crosses the queue", () => {
	test("from messages.send through delivery and the channel to task.fanout's push", async () => {
		const svc = await startWithMocks(
			[MessagesService, DeliveryService, FanoutService] as ServiceSchema[],
			{
				"repo.members.role": () => "member",
				"repo.messages.append": m => ({ message: { ...m, seq: 1, createdAt: "" }, duplicate: false }),
				"api.push": ({ pushes }) => pushes.length
			},
			{ channels: true }
		);
		try {
			await svc.broker.call(
				"messages.send",
				{ conversationId: "world", clientMsgId: "w", type: "text", content: "hello" },
				{
					requestID: "send-1",
					meta: { userId: "1" }
				}
			);
			await until(() => svc.callsTo("api.push").length === 1);
			// The gateway push itself carries no request ID: it coalesces the pushes of many requests.
			expect(svc.calls.filter(c => c.action !== "api.push").map(c => [c.action, c.requestID])).toEqual([
				["messages.send", "send-1"],
				["repo.members.role", "send-1"],
				["repo.messages.append", "send-1"],
				["delivery.message", "send-1"],
				["delivery.toUsers", "send-1"]
			]);
			expect(svc.callsTo("delivery.toUsers")).toEqual([
				expect.objectContaining({ everyone: true, event: "message:new" })
			]);
		} finally {
			await svc.stop();
		}
	});
});
