import type { Socket } from "socket.io-client";
import { startGoChat, RunningGoChat } from "../helpers/gochat";
import { Account, Api, register } from "../helpers/http";
import { closeAll, connect, emitAck } from "../helpers/sockets";

/** `{"x": [[[…]]]}`: `depth` levels of arrays under one field, as a client could send it. */
const nestedArrays = (depth: number) => JSON.parse(`{"x": ${"[".repeat(depth)}${"]".repeat(depth)}}`).x;

type Handler = (ctx: { params: unknown }) => unknown;

let rawAckId = 1_000_000;

/**
 * Emits an event whose payload is already JSON text, as a client other than socket.io-client may:
 * that one cannot even serialise a payload a few thousand levels deep. Resolves with the ack.
 */
function rawEmit(socket: Socket, event: string, payloadJson: string): Promise<any> {
	const engine = (
		socket.io as unknown as {
			engine: {
				write(data: string): void;
				on(e: string, f: (p: { type: string; data?: unknown }) => void): void;
				off(e: string, f: unknown): void;
			};
		}
	).engine;
	const id = ++rawAckId;
	return new Promise((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error(`no ack for ${event}`)), 10000);
		const onPacket = (packet: { type: string; data?: unknown }) => {
			const text = typeof packet.data === "string" ? packet.data : "";
			if (packet.type !== "message" || !text.startsWith(`3${id}[`)) return;
			clearTimeout(timer);
			engine.off("packet", onPacket);
			resolve(JSON.parse(text.slice(`3${id}`.length))[0]);
		};
		engine.on("packet", onPacket);
		engine.write(`2${id}[${JSON.stringify(event)},${payloadJson}]`);
	});
}

/** Records the params an action receives on the node that runs it (after the transporter, in a cluster). */
function spyOnParams(node: RunningGoChat, action: string): unknown[] {
	const seen: unknown[] = [];
	const list = (
		node.broker.registry as unknown as {
			getActionEndpoints(name: string): { endpoints: Array<{ local: boolean; action: { handler: Handler } }> };
		}
	).getActionEndpoints(action);
	const endpoint = list.endpoints.find(e => e.local)!;
	const original = endpoint.action.handler;
	endpoint.action.handler = ctx => {
		seen.push(ctx.params);
		return original(ctx);
	};
	return seen;
}

/**
 * Input reaches logic only in a shape it can take: nesting bounded (a deep value overflowed the
 * stack serialising for the transporter, a 500) and only declared fields. Here the gateway runs
 * on a node of its own, so every call crosses the transporter.
 */
describe("gateway input, with the gateway on its own node", () => {
	let logic: RunningGoChat;
	let gateway: RunningGoChat;
	let api: Api;
	let alice: Account;
	let bob: Account;
	let conversationId: string;
	const sockets: Socket[] = [];

	beforeAll(async () => {
		logic = await startGoChat({ SERVICES: "logic,repo,task", JSON_MAX_DEPTH: "10" }, { cluster: true });
		gateway = await startGoChat({ SERVICES: "gateway", JSON_MAX_DEPTH: "10" }, { join: logic });
		await gateway.broker.waitForServices(
			["auth", "users", "conversations", "messages", "groups", "repo.presence"],
			10000
		);
		api = new Api(gateway.baseUrl);
		[alice, bob] = [await register(api, "alice"), await register(api, "bob")];
		conversationId = (await alice.api.post("/api/v1/conversations/direct", { userId: bob.user.id })).body
			.conversation.id;
	});
	afterEach(() => closeAll(sockets.splice(0)));
	afterAll(async () => {
		await gateway?.stop();
		await logic?.stop();
	});

	test("a body nested 40,000 levels deep, in an unknown field or a declared one, is refused with 400 and nothing is stored", async () => {
		// Sent as text: JSON.stringify itself overflows at a few thousand levels.
		const deep = "[".repeat(40_000) + "]".repeat(40_000);
		const cases: Array<[string, string, string]> = [
			[
				"POST",
				`/api/v1/conversations/${conversationId}/messages`,
				`{"clientMsgId":"deep-1","type":"text","content":"x","extra":${deep}}`
			],
			[
				"POST",
				`/api/v1/conversations/${conversationId}/messages`,
				`{"clientMsgId":"deep-2","type":"text","content":${deep}}`
			],
			["PATCH", "/api/v1/users/me", `{"displayName":"Alice","extra":${deep}}`],
			["POST", "/api/v1/groups", `{"name":"deep","memberIds":${deep}}`]
		];
		for (const [method, path, raw] of cases) {
			const res = await alice.api.request(method, path, undefined, { raw });
			expect({ path, status: res.status, code: res.body.error?.code }).toEqual({
				path,
				status: 400,
				code: "INVALID_INPUT"
			});
			expect(res.body.error.message).toBe("The request is nested deeper than 10 levels");
		}
		const login = await api.request("POST", "/api/v1/auth/login", undefined, {
			raw: `{"username":"alice","password":"whatever1","extra":${deep}}`
		});
		expect(login.status).toBe(400);
		const history = await alice.api.get(`/api/v1/conversations/${conversationId}/messages`);
		expect(history.body.messages).toEqual([]);
		expect((await alice.api.get("/api/v1/users/me")).body.user.displayName).toBe("alice");
	});

	test("JSON_MAX_DEPTH levels pass; undeclared and $-fields never reach the action", async () => {
		const seen = spyOnParams(logic, "messages.send");
		const res = await alice.api.post(`/api/v1/conversations/${conversationId}/messages`, {
			clientMsgId: "shallow-1",
			type: "text",
			content: "fine",
			extra: nestedArrays(9),
			$params: { conversationId: "world" },
			$$strict: false
		});
		expect(res.status).toBe(200);
		expect(res.body.message.conversationId).toBe(conversationId);
		expect(seen).toEqual([{ conversationId, clientMsgId: "shallow-1", type: "text", content: "fine" }]);
		const tooDeep = await alice.api.post(`/api/v1/conversations/${conversationId}/messages`, {
			clientMsgId: "shallow-2",
			type: "text",
			content: "x",
			extra: nestedArrays(10)
		});
		expect(tooDeep.status).toBe(400);
	});

	test("socket payloads: deep ones are refused in the ack, undeclared fields are dropped", async () => {
		const socket = await connect(gateway.baseUrl, alice.accessToken);
		sockets.push(socket);
		const deepJson = "[".repeat(100_000) + "]".repeat(100_000);
		const deep = await rawEmit(
			socket,
			"message:send",
			`{"conversationId":"${conversationId}","clientMsgId":"s-deep","type":"text","content":"x","extra":${deepJson}}`
		);
		expect(deep).toEqual({
			ok: false,
			error: { code: "INVALID_INPUT", message: "The event payload is nested deeper than 10 levels" }
		});
		for (const event of ["conversation:read", "typing", "sync", "auth:refresh", "no-such-event"]) {
			const ack = await emitAck(socket, event, { since: nestedArrays(3000) });
			expect({ event, ok: ack.ok, code: ack.error?.code }).toEqual({
				event,
				ok: false,
				code: event === "no-such-event" ? "ROUTE_NOT_FOUND" : "INVALID_INPUT"
			});
		}
		const seen = spyOnParams(logic, "conversations.markRead");
		const read = await emitAck(socket, "conversation:read", {
			conversationId,
			seq: 0,
			$$strict: false,
			extra: { a: 1 }
		});
		expect(read.ok).toBe(true);
		expect(seen).toEqual([{ conversationId, seq: 0 }]);
		const stillThere = await emitAck(socket, "message:send", {
			conversationId,
			clientMsgId: "s-ok",
			type: "text",
			content: "after"
		});
		expect(stillThere.ok).toBe(true);
	});
});

describe("the address the gateway listens on", () => {
	test("HOST=127.0.0.1 binds only there; the default binds every interface", async () => {
		const local = await startGoChat({ HOST: "127.0.0.1" });
		const everywhere = await startGoChat({});
		try {
			const server = (node: RunningGoChat) =>
				(node.broker.getLocalService("api") as unknown as { server: import("http").Server }).server;
			expect(server(local).address()).toMatchObject({ address: "127.0.0.1" });
			expect(server(everywhere).address()).toMatchObject({ address: "0.0.0.0" });
			expect((await new Api(local.baseUrl).get("/health")).status).toBe(200);
		} finally {
			await local.stop();
			await everywhere.stop();
		}
	});
});
