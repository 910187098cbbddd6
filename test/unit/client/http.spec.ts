import { REST_BASE_PATH, REST_ROUTES, RestAction } from "../../../lib/contracts/client";
import { GoChatError } from "../../../client/src/errors";
import { buildRequest, Http } from "../../../client/src/http";

describe("buildRequest", () => {
	const actions = Object.keys(REST_ROUTES) as RestAction[];

	it.each(actions)("%s: path params filled and encoded, the rest in the query (GET) or the JSON body", action => {
		const route = REST_ROUTES[action];
		const names = [...route.path.matchAll(/:(\w+)/g)].map(m => m[1]);
		const params: Record<string, unknown> = { limit: 5, q: "a b&c", skipped: undefined };
		for (const name of names) params[name] = `${name}/x y`;
		const built = buildRequest(action, params as never);

		expect(built.method).toBe(route.method);
		const [path, query] = built.path.split("?");
		let expected = REST_BASE_PATH + route.path;
		for (const name of names) expected = expected.replace(`:${name}`, encodeURIComponent(`${name}/x y`));
		expect(path).toBe(expected);
		if (route.method === "GET") {
			expect(new URLSearchParams(query).toString()).toBe("limit=5&q=a+b%26c");
			expect(built.body).toBeUndefined();
		} else {
			expect(query).toBeUndefined();
			expect(JSON.parse(built.body!)).toEqual({ limit: 5, q: "a b&c" });
		}
	});

	it("sends no body on a DELETE whose params all sit in the path, and {} on a POST without params", () => {
		expect(buildRequest("groups.unblock", { id: "7" })).toEqual({
			method: "DELETE",
			path: "/api/v1/groups/7/block"
		});
		expect(buildRequest("groups.leave", { id: "7" }).body).toBe("{}");
		expect(buildRequest("users.me", {}).path).toBe("/api/v1/users/me");
	});

	it("writes numbers in decimal and leaves undefined ones out", () => {
		const built = buildRequest("messages.history", { conversationId: "world", beforeSeq: 42, afterSeq: undefined });
		expect(built.path).toBe("/api/v1/conversations/world/messages?beforeSeq=42");
	});

	it("refuses a missing path param before sending anything", () => {
		expect(() => buildRequest("users.get", {} as never)).toThrow(
			expect.objectContaining({ code: "INVALID_INPUT" })
		);
	});
});

describe("Http", () => {
	const reply = (status: number, body: string, headers: Record<string, string> = {}) =>
		jest.fn(async () => new Response(body, { status, headers })) as unknown as typeof fetch;

	it("answers the JSON body of a 2xx and sends the token", async () => {
		const fetch = reply(200, JSON.stringify({ users: [] }));
		const http = new Http({ baseUrl: "http://gochat.test/", fetch });
		await expect(http.call("users.search", { q: "al" }, "tok")).resolves.toEqual({ users: [] });
		const [url, init] = (fetch as jest.Mock).mock.calls[0];
		expect(url).toBe("http://gochat.test/api/v1/users?q=al");
		expect(init.headers.authorization).toBe("Bearer tok");
	});

	it("turns a server error into a GoChatError with status, code, details and retryAfter", async () => {
		const body = { error: { code: "RATE_LIMITED", message: "slow down", details: { retryAfter: 8 } } };
		const http = new Http({
			baseUrl: "http://gochat.test",
			fetch: reply(429, JSON.stringify(body), { "retry-after": "8" })
		});
		const err: GoChatError = await http.call("auth.guest", {}).catch(e => e);
		expect(err).toBeInstanceOf(GoChatError);
		expect(err).toMatchObject({ status: 429, code: "RATE_LIMITED", message: "slow down", retryAfter: 8 });
		expect(err.details).toEqual({ retryAfter: 8 });
	});

	it("takes retryAfter from the Retry-After header when the details lack it", async () => {
		const body = { error: { code: "OVERLOADED", message: "busy" } };
		const http = new Http({
			baseUrl: "http://gochat.test",
			fetch: reply(503, JSON.stringify(body), { "retry-after": "3" })
		});
		await expect(http.call("auth.guest", {})).rejects.toMatchObject({
			status: 503,
			code: "OVERLOADED",
			retryAfter: 3
		});
	});

	it("reports a body that is not JSON as BAD_RESPONSE with the status", async () => {
		const http = new Http({ baseUrl: "http://gochat.test", fetch: reply(502, "<html>Bad gateway</html>") });
		await expect(http.call("auth.guest", {})).rejects.toMatchObject({
			status: 502,
			code: "BAD_RESPONSE",
			message: expect.stringContaining("POST /api/v1/auth/guest answered 502")
		});
	});

	it("reports a failed connection as NETWORK_ERROR with status 0", async () => {
		const failing = (async () => {
			throw new TypeError("fetch failed");
		}) as unknown as typeof fetch;
		const http = new Http({ baseUrl: "http://gochat.test", fetch: failing });
		await expect(http.call("users.me", {}, "t")).rejects.toMatchObject({
			status: 0,
			code: "NETWORK_ERROR",
			message: expect.stringContaining("fetch failed")
		});
	});

	it("gives up after requestTimeoutMs with TIMEOUT", async () => {
		const hanging = ((_url: string, init: RequestInit) =>
			new Promise((_resolve, reject) =>
				init.signal!.addEventListener("abort", () => reject(new Error("aborted")))
			)) as unknown as typeof fetch;
		const http = new Http({ baseUrl: "http://gochat.test", fetch: hanging, requestTimeoutMs: 30 });
		await expect(http.call("users.me", {}, "t")).rejects.toMatchObject({ status: 0, code: "TIMEOUT" });
	});
});

describe("GoChatError.fromAck", () => {
	it("keeps the ack's code, message and details, and reads retryAfter from them", () => {
		const err = GoChatError.fromAck({ code: "RATE_LIMITED", message: "wait", details: { retryAfter: 2 } });
		expect(err).toMatchObject({
			status: 0,
			code: "RATE_LIMITED",
			message: "wait",
			retryAfter: 2,
			name: "GoChatError"
		});
		expect(err.toJSON()).toEqual({ code: "RATE_LIMITED", message: "wait", details: { retryAfter: 2 } });
	});
});
