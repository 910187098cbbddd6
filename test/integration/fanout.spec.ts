import type { Socket } from "socket.io-client";
import { startGoChat, RunningGoChat } from "../helpers/gochat";
import { Account, Api, register } from "../helpers/http";
import { closeAll, connect, emitAck, nextEvent, record } from "../helpers/sockets";
import { until } from "../helpers/wait";

type NewMessage = { message: { id: string; content: string } };

describe("large-group fan-out through the durable queue", () => {
	let gochat: RunningGoChat;
	let api: Api;
	const sockets: Socket[] = [];

	beforeAll(async () => {
		gochat = await startGoChat();
		api = new Api(gochat.baseUrl);
	});
	afterAll(async () => {
		closeAll(sockets);
		await gochat.stop();
	});

	test("a 600-member group goes through task, and every online member gets the message exactly once", async () => {
		const owner = await register(api, "owner");
		const members: Account[] = [];
		// Eight sign-ups at a time: 599 one by one took most of the test's time on a loaded machine.
		for (let i = 0; i < 599; i += 8) {
			const batch = Array.from({ length: Math.min(8, 599 - i) }, (_, k) => register(api, `m${i + k}`));
			members.push(...(await Promise.all(batch)));
		}
		const created = await owner.api.post("/api/v1/groups", {
			name: "six hundred",
			memberIds: members.map(m => m.user.id)
		});
		expect(created.body.group.memberCount).toBe(600);
		const conversationId = created.body.group.conversationId;

		const onlineMembers = members.filter((_, i) => i % 15 === 0);
		const listeners = await Promise.all(onlineMembers.map(m => connect(gochat.baseUrl, m.accessToken)));
		const outsider = await connect(gochat.baseUrl, (await register(api, "outsider")).accessToken);
		const ownerSocket = await connect(gochat.baseUrl, owner.accessToken);
		sockets.push(...listeners, outsider, ownerSocket);
		const logs = listeners.map(s => record<NewMessage>(s, "message:new"));
		const outsiderLog = record<NewMessage>(outsider, "message:new");

		const before = await gochat.broker.call<{ messages: number; batches: number }>("task.fanout.stats");
		const arrivals = listeners.map(s =>
			nextEvent<NewMessage>(s, "message:new", e => e.message.content === "to all 600")
		);
		const ack = await emitAck(ownerSocket, "message:send", {
			conversationId,
			clientMsgId: "big-1",
			type: "text",
			content: "to all 600"
		});
		expect(ack.ok).toBe(true);
		await Promise.all(arrivals);
		// The task counts a job once its handler returns, which may be a moment after the push reached the sockets.
		let after = before;
		await until(async () => {
			after = await gochat.broker.call<{ messages: number; batches: number }>("task.fanout.stats");
			return after.messages > before.messages && after.batches > before.batches;
		}, "task.fanout to count the message and its batch");
		expect(after.messages - before.messages).toBe(1);
		expect(after.batches - before.batches).toBe(1);

		// A second message through the same path arrives after the first everywhere: nothing is left in flight.
		const marks = listeners.map(s => nextEvent<NewMessage>(s, "message:new", e => e.message.content === "second"));
		await emitAck(ownerSocket, "message:send", {
			conversationId,
			clientMsgId: "big-2",
			type: "text",
			content: "second"
		});
		await Promise.all(marks);
		for (const log of logs) expect(log.map(e => e.message.content)).toEqual(["to all 600", "second"]);
		expect(outsiderLog).toEqual([]);
	}, 90_000);
});
