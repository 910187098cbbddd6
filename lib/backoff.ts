/**
 * Growing delays between attempts (failed logins): the first `free` attempts go at once; after
 * that each one must wait `baseMs` after the previous, doubling with every attempt up to `maxMs`.
 * An attempt is counted before its outcome is known, so concurrent ones cannot all slip through.
 * Pure math here; stores keep each key's state as "<count>:<last attempt ms>".
 */
export interface Backoff {
	free: number;
	baseMs: number;
	maxMs: number;
	/** How long after the wait its last attempt imposed a key is forgotten. */
	memoryMs: number;
}

/** One counter an attempt is charged to, with its policy. */
export interface BackoffCounter extends Backoff {
	key: string;
}

export interface AttemptState {
	count: number;
	lastAt: number;
}

export interface AttemptDecision {
	allowed: boolean;
	/** Milliseconds until an attempt would be allowed (0 when allowed). */
	retryAfterMs: number;
	/** Index of the counter that refused (the longest wait), -1 when allowed. */
	refusedBy: number;
}

/** The wait `count` attempts impose after the last of them. */
export function delayAfter(policy: Backoff, count: number): number {
	if (count < policy.free) return 0;
	// The exponent is capped so 2^n stays a finite number long after maxMs is reached.
	return Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(count - policy.free, 40));
}

/** Milliseconds the next attempt must still wait, 0 when it may go now. */
export function attemptWait(policy: Backoff, state: AttemptState | null, now: number): number {
	if (!state) return 0;
	return Math.max(0, state.lastAt + delayAfter(policy, state.count) - now);
}

/** How long a key that now holds `count` attempts lives: its wait, then the memory. */
export function attemptsTtl(policy: Backoff, count: number): number {
	return delayAfter(policy, count) + policy.memoryMs;
}

/** Refused when any counter still makes the attempt wait: then none of them counts it. */
export function decideAttempt(counters: Backoff[], states: Array<AttemptState | null>, now: number): AttemptDecision {
	let refusedBy = -1;
	let wait = 0;
	counters.forEach((policy, i) => {
		const left = attemptWait(policy, states[i], now);
		if (left > wait) {
			wait = left;
			refusedBy = i;
		}
	});
	return { allowed: refusedBy < 0, retryAfterMs: Math.ceil(wait), refusedBy };
}

export function encodeAttempts(state: AttemptState): string {
	return `${state.count}:${state.lastAt}`;
}

export function decodeAttempts(raw: string | null): AttemptState | null {
	if (raw === null) return null;
	const [count, lastAt] = raw.split(":").map(Number);
	return Number.isFinite(count) && Number.isFinite(lastAt) ? { count, lastAt } : null;
}
