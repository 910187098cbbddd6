import { startGoChat, RunningGoChat } from "../helpers/gochat";
import { Account, Api, register } from "../helpers/http";

describe("HTTP edges: probes, malformed requests, unknown routes", () => {
	let gochat: RunningGoChat;
	let api: Api;
	let alice: Account;

	beforeAll(async () => {
		gochat = await startGoChat({ MESSAGE_MAX_BYTES: "1024" });
		api = new Api(gochat.baseUrl);
		alice = await register(api, "alice");
	});
	afterAll(() => gochat.stop());

	test("health answers alive and ready reports a migrated database", async () => {
		const health = await api.get("/health");
		expect(health.status).toBe(200);
		expect(health.body.status).toBe("ok");
		const ready = await api.get("/ready");
		expect(ready.status).toBe(200);
		expect(ready.body).toMatchObject({ status: "ready", database: { migrated: true } });
	});

	test("a client's X-Request-ID names its request, unless it is too long or odd to copy into logs", async () => {
		const me = (requestId: string) =>
			alice.api.request("GET", "/api/v1/users/me", undefined, {
				headers: { "x-request-id": requestId }
			});
		const kept = await me("client-42.retry:1");
		expect(kept.headers.get("x-request-id")).toBe("client-42.retry:1");
		for (const odd of ["x".repeat(65), "two words", "<script>"]) {
			const replaced = (await me(odd)).headers.get("x-request-id");
			expect(replaced).toMatch(/^[0-9a-f-]{36}$/);
		}
	});

	test("malformed JSON is a 400 and changes nothing", async () => {
		const res = await api.request("POST", "/api/v1/auth/register", undefined, { raw: '{"username": "broken",' });
		expect([res.status, res.body.error.code]).toEqual([400, "MALFORMED_JSON"]);
		const search = await alice.api.get("/api/v1/users?q=broken");
		expect(search.body.users).toEqual([]);
	});

	test("a body that is not JSON is refused with 415, not silently ignored", async () => {
		const res = await api.request("POST", "/api/v1/auth/login", undefined, {
			raw: "username=a&password=b",
			headers: { "content-type": "application/x-www-form-urlencoded" }
		});
		expect([res.status, res.body.error.code]).toEqual([415, "UNSUPPORTED_MEDIA_TYPE"]);
		const vendorJson = await api.request("POST", "/api/v1/auth/login", undefined, {
			raw: "{}",
			headers: { "content-type": "application/vnd.api+json" }
		});
		expect([vendorJson.status, vendorJson.body.error.code]).toEqual([415, "UNSUPPORTED_MEDIA_TYPE"]);
		const withCharset = await api.request("POST", "/api/v1/auth/login", undefined, {
			raw: "{}",
			headers: { "content-type": "application/json; charset=utf-8" }
		});
		expect(withCharset.status).toBe(400);
	});

	test("writes read the body only: a query string cannot carry or override their input", async () => {
		const viaQuery = await api.request(
			"POST",
			`/api/v1/auth/login?username=${alice.user.username}&password=correct%20horse`,
			{}
		);
		expect([viaQuery.status, viaQuery.body.error.code]).toEqual([400, "INVALID_INPUT"]);
		const sent = await alice.api.post("/api/v1/conversations/world/messages?content=from-query", {
			clientMsgId: "q-1",
			type: "text",
			content: "from-body"
		});
		expect(sent.body.message.content).toBe("from-body");
	});

	test("an empty query value counts as absent", async () => {
		const all = await alice.api.get("/api/v1/conversations/world/messages");
		const empty = await alice.api.get("/api/v1/conversations/world/messages?beforeSeq=&afterSeq=");
		expect(empty.status).toBe(200);
		expect(empty.body).toEqual(all.body);
	});

	test("a badly encoded path parameter is a 400, and so is an ID with a leading zero", async () => {
		const res = await alice.api.get("/api/v1/users/%E0%A4%A");
		expect([res.status, res.body.error.code]).toEqual([400, "INVALID_INPUT"]);
		const padded = await alice.api.get(`/api/v1/users/0${alice.user.id}`);
		expect([padded.status, padded.body.error.code]).toEqual([400, "INVALID_INPUT"]);
	});

	test("errors carry CORS headers so a browser can read them, and created resources a Location", async () => {
		const res = await api.request("POST", "/api/v1/auth/register", undefined, {
			raw: "{oops",
			headers: { origin: "https://app.example.com", "content-type": "application/json" }
		});
		expect(res.status).toBe(400);
		expect(res.headers.get("access-control-allow-origin")).toBe("*");
		const created = await api.post("/api/v1/auth/guest", {});
		expect(created.status).toBe(201);
		expect(created.headers.get("location")).toBe(`/api/v1/users/${created.body.user.id}`);
	});

	test("validation errors name the field and leak no internals", async () => {
		const res = await alice.api.post("/api/v1/conversations/world/messages", {
			clientMsgId: "v-1",
			type: "sticker",
			content: "x"
		});
		expect(res.status).toBe(400);
		expect(res.body.error.message).toBe("'type' must be one of: text, image, file");
		expect(res.body.error.details).toEqual([
			{ field: "type", type: "enumValue", message: "'type' must be one of: text, image, file" }
		]);
	});

	test("a body over the limit is a 413", async () => {
		const res = await alice.api.post("/api/v1/conversations/world/messages", {
			clientMsgId: "huge",
			type: "text",
			content: "x".repeat(200 * 1024)
		});
		expect([res.status, res.body.error.code]).toEqual([413, "PAYLOAD_TOO_LARGE"]);
		const history = await alice.api.get("/api/v1/conversations/world/messages");
		expect(history.body.messages.map((m: { clientMsgId: string }) => m.clientMsgId)).not.toContain("huge");
	});

	test("an unknown route is a JSON 404", async () => {
		for (const [method, path] of [
			["GET", "/nope"],
			["GET", "/api/v1/nope"],
			["DELETE", "/api/v1/users/me"],
			["GET", "/api/v1/auth/login"]
		]) {
			const res = await alice.api.request(method, path);
			expect(res.status).toBe(404);
			expect(res.headers.get("content-type")).toContain("application/json");
			expect(res.body.error.code).toBe("ROUTE_NOT_FOUND");
		}
	});

	test("internal actions are not reachable over HTTP", async () => {
		for (const path of [
			"/api/v1/repo.users/get",
			"/api/v1/$node/list",
			"/repo.users.getMany",
			"/api/v1/auth/resolveToken"
		]) {
			const res = await alice.api.request("GET", path);
			expect(res.status).toBe(404);
		}
	});

	test("no body a client can send to any route yields a 500 or a stack trace", async () => {
		const routes: Array<[string, string]> = [
			["POST", "/api/v1/auth/register"],
			["POST", "/api/v1/auth/login"],
			["POST", "/api/v1/auth/guest"],
			["POST", "/api/v1/auth/refresh"],
			["PATCH", "/api/v1/users/me"],
			["GET", "/api/v1/users"],
			["POST", "/api/v1/conversations/direct"],
			["GET", "/api/v1/conversations/world/messages"],
			["POST", "/api/v1/conversations/world/messages"],
			["POST", "/api/v1/conversations/world/read"],
			["POST", "/api/v1/groups"],
			["GET", "/api/v1/groups/1"],
			["POST", "/api/v1/groups/1/members"],
			["DELETE", "/api/v1/groups/1/members/2"],
			["PATCH", "/api/v1/groups/1/members/2"],
			["POST", "/api/v1/groups/1/leave"],
			["POST", "/api/v1/auth/logout"]
		];
		const bodies = [
			"[]",
			"null",
			"42",
			'"text"',
			"{}",
			'{"username":{"$gt":""}}',
			'{"seq":"1e309"}',
			'{"clientMsgId":[],"type":{},"content":null}',
			'{"userIds":"1,2"}',
			'{"memberIds":[1,2]}',
			'{"name":"' + "n".repeat(500) + '"}',
			'{"__proto__":{"admin":true}}',
			'{"refreshToken":"' + "a".repeat(10000) + '"}'
		];
		for (const [method, path] of routes) {
			for (const raw of bodies) {
				const res = await alice.api.request(method, path, undefined, method === "GET" ? {} : { raw });
				if (res.status >= 500)
					throw new Error(
						`${method} ${path} with ${raw.slice(0, 60)} answered ${res.status}: ${JSON.stringify(res.body)}`
					);
				if (res.status >= 400) {
					expect(typeof res.body.error.code).toBe("string");
					expect(JSON.stringify(res.body)).not.toMatch(/at .+\.(ts|js):\d+/);
				}
			}
		}
	});
});
