import { Errors } from "moleculer";
import {
	GoChatError,
	isServerFailure,
	isTransientFailure,
	toHttpError,
	TRANSIENT_RETRY_AFTER_SECONDS,
	UNAVAILABLE_RETRY_AFTER_SECONDS
} from "../../../lib/errors";
import { CIRCUIT_HALF_OPEN_MS } from "../../../lib/resilience";

/** What another node receives: Moleculer's Regenerator rebuilds the error from these fields. */
function crossNodes(err: Error & { code?: unknown; type?: unknown; data?: unknown; retryable?: unknown }) {
	const plain = JSON.parse(
		JSON.stringify({
			name: err.name,
			message: err.message,
			code: err.code,
			type: err.type,
			data: err.data,
			retryable: err.retryable
		})
	);
	return new Errors.Regenerator().restore(plain, { sender: "other-node" });
}

describe("toHttpError", () => {
	test("GoChat errors keep their code and status", () => {
		expect(toHttpError(new GoChatError("GROUP_FULL", "full"))).toEqual({
			status: 409,
			body: { error: { code: "GROUP_FULL", message: "full" } }
		});
		expect(toHttpError(new GoChatError("TOO_MANY_ATTEMPTS", "wait", { retryAfter: 5 })).body.error.details).toEqual(
			{ retryAfter: 5 }
		);
	});

	test("they survive serialization between nodes", () => {
		const plain = JSON.parse(
			JSON.stringify({ ...new GoChatError("FORBIDDEN", "no"), name: "MoleculerClientError", message: "no" })
		);
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
		expect(toHttpError({ type: "entity.too.large", status: 413 })).toMatchObject({
			status: 413,
			body: { error: { code: "PAYLOAD_TOO_LARGE" } }
		});
	});

	test("an unknown route is ROUTE_NOT_FOUND", () => {
		expect(toHttpError({ name: "NotFoundError", type: "NOT_FOUND", code: 404 })).toMatchObject({
			status: 404,
			body: { error: { code: "ROUTE_NOT_FOUND" } }
		});
	});

	test("a missing or overloaded service is 503", () => {
		expect(toHttpError(new Errors.ServiceNotFoundError({ action: "repo.users.get" })).status).toBe(503);
		expect(toHttpError(new Errors.RequestTimeoutError({ action: "x", nodeID: "n" })).status).toBe(503);
	});

	test("a full bulkhead is OVERLOADED with retryAfter, even after crossing nodes", () => {
		const full = new Errors.QueueIsFullError({ action: "messages.send", nodeID: "n" });
		expect(toHttpError(full)).toMatchObject({
			status: 503,
			body: { error: { code: "OVERLOADED", details: { retryAfter: 1 } } }
		});
		const crossed = JSON.parse(
			JSON.stringify({ name: full.name, message: full.message, code: full.code, type: full.type })
		);
		expect(toHttpError(crossed).body.error.code).toBe("OVERLOADED");
	});

	test("infrastructure failures are 503 SERVICE_UNAVAILABLE, never INTERNAL", () => {
		const failures = [
			new Errors.RequestSkippedError({ action: "repo.messages.append", nodeID: "n" }),
			Object.assign(new Error("Reached the max retries per request limit (which is 3)."), {
				name: "MaxRetriesPerRequestError"
			}),
			new Error("Connection is closed."),
			Object.assign(new Error("LOADING Redis is loading the dataset in memory"), { name: "ReplyError" }),
			Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:6379"), { code: "ECONNREFUSED" }),
			{ name: "SequelizeDatabaseError", message: "Deadlock found", parent: { code: "ER_LOCK_DEADLOCK" } },
			{
				name: "SequelizeTimeoutError",
				message: "SQLITE_BUSY: database is locked",
				parent: { code: "SQLITE_BUSY" }
			},
			{ name: "SequelizeConnectionRefusedError", message: "connect ECONNREFUSED" }
		];
		for (const failure of failures)
			expect([failure.message, toHttpError(failure).body.error.code]).toEqual([
				failure.message,
				"SERVICE_UNAVAILABLE"
			]);
	});

	test("anything else is a bare 500 that leaks nothing", () => {
		const { status, body } = toHttpError(new Error("SQLITE_ERROR: no such table users at /app/x.js:1"));
		expect(status).toBe(500);
		expect(body).toEqual({ error: { code: "INTERNAL", message: "Internal server error" } });
	});

	test("no endpoint (an open circuit breaker, a service gone) is 503 SERVICE_UNAVAILABLE with the half-open time as retryAfter", () => {
		expect(UNAVAILABLE_RETRY_AFTER_SECONDS).toBe(Math.ceil(CIRCUIT_HALF_OPEN_MS / 1000));
		for (const err of [
			new Errors.ServiceNotAvailableError({ action: "repo.users.get" }),
			new Errors.ServiceNotFoundError({ action: "repo.users.get" })
		]) {
			const expected = {
				status: 503,
				body: {
					error: { code: "SERVICE_UNAVAILABLE", details: { retryAfter: UNAVAILABLE_RETRY_AFTER_SECONDS } }
				}
			};
			expect(toHttpError(err)).toMatchObject(expected);
			expect(toHttpError(crossNodes(err))).toMatchObject(expected);
		}
	});

	test("a timed-out or lost call is 503 SERVICE_UNAVAILABLE with a short retryAfter, after crossing nodes too", () => {
		const lost = [
			new Errors.RequestTimeoutError({ action: "repo.users.get", nodeID: "n" }),
			new Errors.RequestRejectedError({ action: "repo.users.get", nodeID: "n" })
		];
		for (const err of lost) {
			const expected = {
				status: 503,
				body: { error: { code: "SERVICE_UNAVAILABLE", details: { retryAfter: TRANSIENT_RETRY_AFTER_SECONDS } } }
			};
			expect([err.name, toHttpError(err)]).toMatchObject([err.name, expected]);
			expect([err.name, toHttpError(crossNodes(err))]).toMatchObject([err.name, expected]);
		}
	});

	test("a full Moleculer bulkhead is OVERLOADED with retryAfter after the Regenerator rebuilt it", () => {
		const crossed = crossNodes(new Errors.QueueIsFullError({ action: "repo.users.get", nodeID: "n" }));
		expect(toHttpError(crossed)).toMatchObject({
			status: 503,
			body: { error: { code: "OVERLOADED", details: { retryAfter: 1 } } }
		});
	});

	test("a node that lost its worker ID lease answers 503 WORKER_ID_LOST with retryAfter, after crossing nodes too", () => {
		const err = new GoChatError("WORKER_ID_LOST", "This node lost its Snowflake worker ID lease", {
			retryAfter: 5
		});
		for (const seen of [err, crossNodes(err)]) {
			expect(toHttpError(seen)).toEqual({
				status: 503,
				body: {
					error: {
						code: "WORKER_ID_LOST",
						message: "This node lost its Snowflake worker ID lease",
						details: { retryAfter: 5 }
					}
				}
			});
		}
	});
});

describe("isServerFailure (the circuit breaker's check)", () => {
	test("server-side failures count, on this node or after crossing nodes", () => {
		const failures = [
			new Errors.MoleculerServerError("boom", 500, "DB_DOWN"),
			new Errors.RequestTimeoutError({ action: "repo.users.get", nodeID: "n" }),
			new Error("SQLITE_ERROR: no such table"),
			Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }),
			new GoChatError("INTERNAL", "unexpected"),
			// That node can create nothing until it leases a worker ID again: callers should try its peers.
			new GoChatError("WORKER_ID_LOST", "lost its lease", { retryAfter: 5 })
		];
		for (const err of failures)
			expect([err.message, isServerFailure(err), isServerFailure(crossNodes(err))]).toEqual([
				err.message,
				true,
				true
			]);
	});

	test("client errors, deliberate refusals and missing endpoints do not count", () => {
		const answers = [
			new GoChatError("FORBIDDEN", "no"),
			new GoChatError("OVERLOADED", "busy", { retryAfter: 1 }),
			new GoChatError("RATE_LIMITED", "slow down", { retryAfter: 1 }),
			new GoChatError("SERVICE_UNAVAILABLE", "the database is unreachable"),
			new Errors.ValidationError("bad", "VALIDATION_ERROR", []),
			new Errors.QueueIsFullError({ action: "x", nodeID: "n" }),
			new Errors.ServiceNotAvailableError({ action: "x" }),
			new Errors.ServiceNotFoundError({ action: "x" })
		];
		for (const err of answers)
			expect([err.message, isServerFailure(err), isServerFailure(crossNodes(err))]).toEqual([
				err.message,
				false,
				false
			]);
	});
});

describe("isTransientFailure (the retry policy's check)", () => {
	test("a lost node, a dropped connection, a deadlock or a server error marked retryable are worth another try", () => {
		const transient = [
			new Errors.RequestRejectedError({ action: "repo.users.get", nodeID: "n" }),
			new Errors.MoleculerRetryableError("try again", 500, "BUSY"),
			Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }),
			{ name: "SequelizeConnectionError", message: "Connection lost" }
		];
		for (const err of transient) expect([err.message, isTransientFailure(err)]).toEqual([err.message, true]);
		expect(isTransientFailure(crossNodes(new Errors.RequestRejectedError({ action: "x", nodeID: "n" })))).toBe(
			true
		);
	});

	test("refusals, timeouts, open breakers, client errors and bugs are not retried", () => {
		const final = [
			new Errors.QueueIsFullError({ action: "x", nodeID: "n" }),
			new Errors.ServiceNotAvailableError({ action: "x" }),
			new Errors.RequestTimeoutError({ action: "x", nodeID: "n" }),
			new GoChatError("OVERLOADED", "busy"),
			new GoChatError("USER_NOT_FOUND", "who?"),
			new Errors.ValidationError("bad", "VALIDATION_ERROR", []),
			new Error("undefined is not a function")
		];
		for (const err of final)
			expect([err.message, isTransientFailure(err), isTransientFailure(crossNodes(err))]).toEqual([
				err.message,
				false,
				false
			]);
	});
});
