/**
 * Per-action resilience overrides. The broker-wide values (circuit breaker, retry policy,
 * bulkhead, request timeout) are named in moleculer.config.ts; an action states here only how it
 * differs.
 */

/** Writes are never retried by the broker: a retry after a timeout could apply the write twice. */
export const NO_RETRY = { enabled: false } as const;

/** Reads answer within this or the caller gets a retryable timeout. */
export const READ_TIMEOUT_MS = 5_000;

/** Writes that touch several rows (group changes, pruning) may take longer than a read. */
export const WRITE_TIMEOUT_MS = 10_000;
