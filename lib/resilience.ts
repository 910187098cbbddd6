import type { BulkheadOptions } from "moleculer";

/**
 * Resilience values shared by moleculer.config.ts (the broker-wide blocks), lib/errors.ts (what a
 * refused client is told) and the action schemas (how one action differs from the broker's).
 */

/** Writes are never retried by the broker: a retry after a timeout could apply the write twice. */
export const NO_RETRY = { enabled: false } as const;

/** The broker's budget for a call that declares no `timeout` of its own. */
export const REQUEST_TIMEOUT_MS = 10_000;

/** Reads answer within this or the caller gets a retryable timeout. */
export const READ_TIMEOUT_MS = 5_000;

/** Writes that touch several rows (group changes, pruning) may take longer than a read. */
export const WRITE_TIMEOUT_MS = 10_000;

/**
 * How long an open circuit breaker keeps an endpoint out of rotation before letting one trial call
 * through. Clients refused meanwhile are told to retry after it.
 */
export const CIRCUIT_HALF_OPEN_MS = 5_000;

/**
 * For event handlers that must see every event (cache cleaning, membership changes, node
 * changes): the broker's bulkhead drops an event that finds its queue full.
 */
export const NEVER_DROPPED = { enabled: false } as const;

declare module "moleculer" {
	// Moleculer's bulkhead reads this from event handlers too; its typings only list it on actions.
	interface ServiceEvent {
		bulkhead?: BulkheadOptions;
	}
}
