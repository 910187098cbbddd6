import type { ClientError } from "../../lib/contracts/client";

/** Codes the SDK gives errors that never reached the server, or whose answer it could not read. */
export type LocalErrorCode = "NETWORK_ERROR" | "TIMEOUT" | "BAD_RESPONSE";

/**
 * Every failure the SDK reports: a refusal by the server (`status` and its `code`, see docs/api.md
 * "Error codes"), or a local one with status 0 (`NETWORK_ERROR`, `TIMEOUT`). Write logic against `code`.
 */
export class GoChatError extends Error {
	override readonly name = "GoChatError";
	/** Seconds to wait before trying again (429 and 503 OVERLOADED), when the server said so. */
	readonly retryAfter?: number;

	constructor(
		/** The HTTP status, or 0 when no answer came (network, timeout, socket ack). */
		readonly status: number,
		readonly code: string,
		message: string,
		readonly details?: unknown,
		retryAfter?: number
	) {
		super(message);
		this.retryAfter = retryAfterOf(details) ?? retryAfter;
	}

	/** From a socket ack's `{code, message, details}` (same codes as REST, no HTTP status). */
	static fromAck(error: ClientError, status = 0): GoChatError {
		return new GoChatError(status, error.code, error.message, error.details);
	}

	/** The shape socket acks and failed messages use. */
	toJSON(): ClientError {
		return this.details === undefined
			? { code: this.code, message: this.message }
			: { code: this.code, message: this.message, details: this.details };
	}
}

export function isGoChatError(err: unknown): err is GoChatError {
	return err instanceof GoChatError;
}

function retryAfterOf(details: unknown): number | undefined {
	const value = (details as { retryAfter?: unknown } | null | undefined)?.retryAfter;
	return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}
