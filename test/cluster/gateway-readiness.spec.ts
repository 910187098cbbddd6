import type { Socket } from "socket.io-client";
import { RunningGoChat, startGoChat } from "../helpers/gochat";
import { Api, register } from "../helpers/http";
import { serverSuite } from "../helpers/servers";
import { closeAll, connect, nextEvent } from "../helpers/sockets";
import { until } from "../helpers/wait";

/**
 * With etcd discovery a running node learns of a new one only at its next heartbeat. A new gateway
 * must not report ready before the nodes that push to it know it, or the first messages for its
 * sockets would arrive by sync only.
 */
serverSuite("etcd", "a gateway joining through etcd discovery", etcd => {
	let a: RunningGoChat;
	let b: RunningGoChat;
	const sockets: Socket[] = [];
	let discoverer: string;

	beforeAll(async () => {
		discoverer = `etcd3://${new URL(etcd.url).host}`;
		a = await startGoChat({ DISCOVERER: discoverer }, { cluster: true });
	});
	afterAll(async () => {
		closeAll(sockets);
		await b?.stop();
		await a?.stop();
	});

	test("is ready only once the pushing nodes know it, and from then on its sockets get pushes at once", async () => {
		b = await startGoChat({ SERVICES: "gateway", DISCOVERER: discoverer }, { join: a });
		const probe = new Api(b.baseUrl);
		let ready = await probe.get("/ready");
		await until(
			async () => {
				ready = await probe.get("/ready");
				return ready.status === 200;
			},
			"gateway B ready",
			{ timeoutMs: 20_000, everyMs: 100 }
		);
		expect(ready.body.checks.pushers).toMatch(/^known to 1 pushing node/);

		const api = new Api(a.baseUrl);
		const [sender, receiver] = [await register(api, "ready_a"), await register(api, "ready_b")];
		const id = (await sender.api.post("/api/v1/conversations/direct", { userId: receiver.user.id })).body
			.conversation.id;
		const onB = await connect(b.baseUrl, receiver.accessToken);
		sockets.push(onB);
		// A push, not a later sync: it must arrive within seconds of the send.
		const pushed = Promise.race([
			nextEvent(onB, "message:new"),
			new Promise<never>((_, reject) => setTimeout(() => reject(new Error("no push within 3 s")), 3000))
		]);
		const sent = await sender.api.post(`/api/v1/conversations/${id}/messages`, {
			clientMsgId: "first-on-b",
			type: "text",
			content: "hello, new gateway"
		});
		expect(sent.status).toBe(200);
		expect((await pushed).message.id).toBe(sent.body.message.id);
	});
});
