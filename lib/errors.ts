import { Errors } from "moleculer";
import { CIRCUIT_HALF_OPEN_MS } from "./resilience";

/**
 * The error vocabulary: every layer throws these codes, the gateway maps them to HTTP once.
 * The HTTP status travels as the Moleculer error `code`, our code as its `type`, so both
 * survive serialization between nodes.
 */
export const ERROR_STATUS = {
	INVALID_INPUT: 400,
	MALFORMED_JSON: 400,
	UNAUTHORIZED: 401,
	INVALID_CREDENTIALS: 401,
	TOKEN_INVALID: 401,
	TOKEN_EXPIRED: 401,
	TOKEN_REVOKED: 401,
	REFRESH_TOKEN_INVALID: 401,
	FORBIDDEN: 403,
	ROUTE_NOT_FOUND: 404,
	USER_NOT_FOUND: 404,
	CONVERSATION_NOT_FOUND: 404,
	GROUP_NOT_FOUND: 404,
	MEMBER_NOT_FOUND: 404,
	USERNAME_TAKEN: 409,
	CLIENT_MSG_ID_CONFLICT: 409,
	GROUP_FULL: 409,
	PAYLOAD_TOO_LARGE: 413,
	MESSAGE_TOO_LARGE: 413,
	UNSUPPORTED_MEDIA_TYPE: 415,
	TOO_MANY_ATTEMPTS: 429,
	RATE_LIMITED: 429,
	INTERNAL: 500,
	SERVICE_UNAVAILABLE: 503,
	OVERLOADED: 503,
	/** This node lost its Snowflake worker ID lease and mints no IDs until it leases one again. */
	WORKER_ID_LOST: 503
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export interface ErrorBody {
	error: { code: string; message: string; details?: unknown };
}

export class GoChatError extends Errors.MoleculerClientError {
	constructor(code: ErrorCode, message: string, data?: unknown) {
		super(message, ERROR_STATUS[code], code, data);
	}
}

export function fail(code: ErrorCode, message: string, data?: unknown): never {
	throw new GoChatError(code, message, data);
}

interface ErrorLike {
	name?: string;
	message?: string;
	code?: unknown;
	type?: unknown;
	status?: unknown;
	data?: unknown;
	parent?: { code?: unknown; message?: string };
}

/** Seconds a refused sender is asked to wait before trying again. */
export const OVERLOAD_RETRY_AFTER_SECONDS = 1;

/** Seconds a client waits when no node can serve the call: an open circuit breaker lets a trial call through by then. */
export const UNAVAILABLE_RETRY_AFTER_SECONDS = Math.ceil(CIRCUIT_HALF_OPEN_MS / 1000);

/** Seconds a client waits after a call that timed out or lost its node on the way: often a blip. */
export const TRANSIENT_RETRY_AFTER_SECONDS = 1;

/** No endpoint can take the call: none registered, or every one has its circuit breaker open. */
const NO_ENDPOINT = new Set(["ServiceNotFoundError", "ServiceNotAvailableError", "CircuitBreakerOpenError"]);

/** The call reached for a node and did not come back in time, or the path to it broke. */
const CALL_LOST = new Set([
	"RequestTimeoutError",
	"RequestSkippedError",
	"RequestRejectedError",
	"BrokerDisconnectedError"
]);

/** Database drivers' and ioredis' errors for a server that is down, restarting, locked or too slow. */
const INFRASTRUCTURE_ERRORS = new Set([
	"SequelizeConnectionError",
	"SequelizeConnectionRefusedError",
	"SequelizeHostNotFoundError",
	"SequelizeHostNotReachableError",
	"SequelizeConnectionTimedOutError",
	"SequelizeConnectionAcquireTimeoutError",
	"SequelizeAccessDeniedError",
	"SequelizeTimeoutError",
	"MaxRetriesPerRequestError",
	"AbortError"
]);
const INFRASTRUCTURE_CODES = new Set([
	"ECONNREFUSED",
	"ECONNRESET",
	"ETIMEDOUT",
	"EPIPE",
	"ENOTFOUND",
	"EAI_AGAIN",
	"EHOSTUNREACH",
	"PROTOCOL_CONNECTION_LOST",
	"ER_LOCK_DEADLOCK",
	"ER_LOCK_WAIT_TIMEOUT",
	"ER_CON_COUNT_ERROR",
	"ER_SERVER_SHUTDOWN",
	"SQLITE_BUSY",
	"SQLITE_LOCKED"
]);
/** ioredis says these in plain Errors or Redis replies: no connection, or a server still loading its data. */
const INFRASTRUCTURE_MESSAGES =
	/^(Connection is closed|Stream isn't writeable|LOADING|MASTERDOWN|READONLY|TRYAGAIN|CLUSTERDOWN)/;

function isInfrastructureFailure(e: ErrorLike): boolean {
	if (typeof e.name === "string" && INFRASTRUCTURE_ERRORS.has(e.name)) return true;
	const codes = [e.code, e.parent?.code].filter(code => typeof code === "string") as string[];
	if (codes.some(code => INFRASTRUCTURE_CODES.has(code))) return true;
	return INFRASTRUCTURE_MESSAGES.test(e.message ?? "") || INFRASTRUCTURE_MESSAGES.test(e.parent?.message ?? "");
}

function isKnownCode(type: unknown): type is ErrorCode {
	return typeof type === "string" && Object.prototype.hasOwnProperty.call(ERROR_STATUS, type);
}

interface ValidationItem {
	field?: string;
	type?: string;
	message?: string;
}

function validationItems(data: unknown): ValidationItem[] {
	return Array.isArray(data) ? data : [];
}

/** Only what helps the client fix its request: which field and what is wrong with it. */
function validationDetails(data: unknown) {
	return validationItems(data).map(({ field, type, message }) => ({ field, type, message }));
}

/**
 * Maps anything thrown while serving a request to the status and body a client sees.
 * Unknown errors become a bare 500 so no stack or internal message leaks.
 */
export function toHttpError(err: unknown): { status: number; body: ErrorBody } {
	const e = (err ?? {}) as ErrorLike;
	const reply = (code: ErrorCode, message: string, details?: unknown) => ({
		status: ERROR_STATUS[code],
		body: { error: details === undefined ? { code, message } : { code, message, details } }
	});

	if (isKnownCode(e.type)) return reply(e.type, e.message ?? e.type, e.data);
	switch (e.type) {
		case "VALIDATION_ERROR":
			return reply(
				"INVALID_INPUT",
				validationItems(e.data)[0]?.message ?? "Invalid parameters",
				validationDetails(e.data)
			);
		case "UNABLE_DECODE_PARAM":
			return reply("INVALID_INPUT", "A path parameter is not valid URL encoding");
		case "entity.parse.failed":
			return reply("MALFORMED_JSON", "The request body is not valid JSON");
		case "entity.too.large":
			return reply("PAYLOAD_TOO_LARGE", "The request body is too large");
		case "encoding.unsupported":
		case "charset.unsupported":
			return reply("INVALID_INPUT", "Unsupported request body encoding");
		case "NOT_FOUND":
			return reply("ROUTE_NOT_FOUND", "No such route");
		case "PAYLOAD_TOO_LARGE":
			return reply("PAYLOAD_TOO_LARGE", "The request body is too large");
	}
	if (e.name === "QueueIsFullError") {
		return reply("OVERLOADED", "GoChat is at capacity; retry shortly", {
			retryAfter: OVERLOAD_RETRY_AFTER_SECONDS
		});
	}
	if (typeof e.name === "string" && NO_ENDPOINT.has(e.name)) {
		return reply("SERVICE_UNAVAILABLE", "The service is temporarily unavailable, retry later", {
			retryAfter: UNAVAILABLE_RETRY_AFTER_SECONDS
		});
	}
	if ((typeof e.name === "string" && CALL_LOST.has(e.name)) || isInfrastructureFailure(e)) {
		return reply("SERVICE_UNAVAILABLE", "The service is temporarily unavailable, retry later", {
			retryAfter: TRANSIENT_RETRY_AFTER_SECONDS
		});
	}
	return reply("INTERNAL", "Internal server error");
}

/**
 * The circuit breaker's check: a failure of the service that answered. Our own codes are decided
 * answers (a client's mistake, an OVERLOADED or RATE_LIMITED refusal, a dependency reported down),
 * 4xx are the caller's, and a full bulkhead or a missing endpoint is not the endpoint failing.
 * WORKER_ID_LOST is: that node cannot serve any write until it leases a worker ID again, so
 * callers should go to its peers meanwhile.
 */
export function isServerFailure(err: unknown): boolean {
	const e = (err ?? {}) as ErrorLike;
	if (isKnownCode(e.type)) return e.type === "INTERNAL" || e.type === "WORKER_ID_LOST";
	return !(typeof e.code === "number" && e.code < 500);
}

/** Retrying these only adds load or delay: the node is saturated, has no endpoint, or may still be working on the call. */
const NOT_WORTH_RETRYING = new Set(["QueueIsFullError", "ServiceNotAvailableError", "RequestTimeoutError"]);

/**
 * The retry policy's check: a transient failure a second attempt of an idempotent read may not
 * meet (a node lost mid-call, a dropped connection, a deadlock, a server still loading).
 */
export function isTransientFailure(err: unknown): boolean {
	const e = (err ?? {}) as ErrorLike & { retryable?: unknown };
	if (typeof e.name === "string" && NOT_WORTH_RETRYING.has(e.name)) return false;
	if (isKnownCode(e.type)) return false;
	return e.retryable === true || isInfrastructureFailure(e);
}
