import { Errors } from "moleculer";
import { GoChatError, toHttpError } from "../../../lib/errors";

describe("toHttpError", () => {
	test("GoChat errors keep their code and status", () => {
		expect(toHttpError(new GoChatError("GROUP_FULL", "full"))).toEqual({ status: 409, body: { error: { code: "GROUP_FULL", message: "full" } } });
		expect(toHttpError(new GoChatError("TOO_MANY_ATTEMPTS", "wait", { retryAfter: 5 })).body.error.details).toEqual({ retryAfter: 5 });
	});

	test("they survive serialization between nodes", () => {
		const plain = JSON.parse(JSON.stringify({ ...new GoChatError("FORBIDDEN", "no"), name: "MoleculerClientError", message: "no" }));
		expect(toHttpError(plain)).toEqual({ status: 403, body: { error: { code: "FORBIDDEN", message: "no" } } });
	});

	test("parameter validation failures are 400 INVALID_INPUT with the first message", () => {
		const err = new Errors.ValidationError("Parameters validation error!", "VALIDATION_ERROR", [
			{ type: "required", field: "username", message: "The 'username' field is required." }
		]);
		const { status, body } = toHttpError(err);
		expect(status).toBe(400);
		expect(body.error).toMatchObject({ code: "INVALID_INPUT", message: "The 'username' field is required." });
	});

	test("body parser failures map to 400 and 413", () => {
		expect(toHttpError({ type: "entity.parse.failed", status: 400 }).body.error.code).toBe("MALFORMED_JSON");
		expect(toHttpError({ type: "entity.too.large", status: 413 })).toMatchObject({ status: 413, body: { error: { code: "PAYLOAD_TOO_LARGE" } } });
	});

	test("an unknown route is ROUTE_NOT_FOUND", () => {
		expect(toHttpError({ name: "NotFoundError", type: "NOT_FOUND", code: 404 })).toMatchObject({ status: 404, body: { error: { code: "ROUTE_NOT_FOUND" } } });
	});

	test("a missing or overloaded service is 503", () => {
		expect(toHttpError(new Errors.ServiceNotFoundError({ action: "repo.users.get" })).status).toBe(503);
		expect(toHttpError(new Errors.RequestTimeoutError({ action: "x", nodeID: "n" })).status).toBe(503);
	});

	test("a full bulkhead is OVERLOADED with retryAfter, even after crossing nodes", () => {
		const full = new Errors.QueueIsFullError({ action: "messages.send", nodeID: "n" });
		expect(toHttpError(full)).toMatchObject({ status: 503, body: { error: { code: "OVERLOADED", details: { retryAfter: 1 } } } });
		const crossed = JSON.parse(JSON.stringify({ name: full.name, message: full.message, code: full.code, type: full.type }));
		expect(toHttpError(crossed).body.error.code).toBe("OVERLOADED");
	});

	test("infrastructure failures are 503 SERVICE_UNAVAILABLE, never INTERNAL", () => {
		const failures = [
			new Errors.RequestSkippedError({ action: "repo.messages.append", nodeID: "n" }),
			Object.assign(new Error("Reached the max retries per request limit (which is 3)."), { name: "MaxRetriesPerRequestError" }),
			new Error("Connection is closed."),
			Object.assign(new Error("LOADING Redis is loading the dataset in memory"), { name: "ReplyError" }),
			Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:6379"), { code: "ECONNREFUSED" }),
			{ name: "SequelizeDatabaseError", message: "Deadlock found", parent: { code: "ER_LOCK_DEADLOCK" } },
			{ name: "SequelizeTimeoutError", message: "SQLITE_BUSY: database is locked", parent: { code: "SQLITE_BUSY" } },
			{ name: "SequelizeConnectionRefusedError", message: "connect ECONNREFUSED" }
		];
		for (const failure of failures) expect([failure.message, toHttpError(failure).body.error.code]).toEqual([failure.message, "SERVICE_UNAVAILABLE"]);
	});

	test("anything else is a bare 500 that leaks nothing", () => {
		const { status, body } = toHttpError(new Error("SQLITE_ERROR: no such table users at /app/x.js:1"));
		expect(status).toBe(500);
		expect(body).toEqual({ error: { code: "INTERNAL", message: "Internal server error" } });
	});
});
