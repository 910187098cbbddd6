/**
 * Rate limits as "N per period" (GCRA, the leaky bucket kept as one timestamp per key): a key may
 * spend N at once, then one more every period/N. Pure math here; stores keep the timestamps.
 */
export interface Rate {
	/** How many at once (the burst) and per period. */
	count: number;
	periodMs: number;
}

export interface RateDecision {
	allowed: boolean;
	/** Milliseconds until one more would be allowed (0 when allowed). */
	retryAfterMs: number;
	/** The key's next state: when its bucket is empty again (store it, expiring then). */
	nextTat: number;
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "20/1s", "60/10m", "5/h"; "off" (or "0") means no limit. Throws a plain Error that says what is wrong. */
export function parseRate(raw: string): Rate | null {
	const text = raw.trim().toLowerCase();
	if (text === "off" || text === "0") return null;
	const match = /^(\d+)\s*\/\s*(\d*)\s*(ms|s|m|h|d)$/.exec(text);
	const count = match ? Number(match[1]) : 0;
	const amount = match ? (match[2] === "" ? 1 : Number(match[2])) : 0;
	if (!match || count < 1 || amount < 1) throw new Error(`must look like 20/1s, 60/10m or off, got "${raw}"`);
	return { count, periodMs: amount * UNITS[match[3]] };
}

export function formatRate(rate: Rate | null): string {
	return rate ? `${rate.count} per ${rate.periodMs / 1000} s` : "unlimited";
}

/** One more event at `now` for a key whose stored state is `tat` (0 for a new key). */
export function decide(rate: Rate, tat: number, now: number, cost = 1): RateDecision {
	const interval = rate.periodMs / rate.count;
	const nextTat = Math.max(tat, now) + interval * cost;
	const overshoot = nextTat - now - rate.periodMs;
	if (overshoot > 0) return { allowed: false, retryAfterMs: Math.ceil(overshoot), nextTat: tat };
	return { allowed: true, retryAfterMs: 0, nextTat };
}

/** Whole seconds to tell a client (Retry-After), at least 1. */
export const retryAfterSeconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

/**
 * In-process limiter for keys this process alone sees (a socket, a user's sends on this gateway).
 * Keys whose bucket has refilled are forgotten, so memory follows the active keys only.
 */
export class LocalRateLimiter {
	private readonly tats = new Map<string, number>();
	private sweptAt = 0;

	constructor(
		private readonly rate: Rate | null,
		private readonly now: () => number = Date.now
	) {}

	take(key: string, cost = 1): RateDecision {
		const now = this.now();
		if (!this.rate) return { allowed: true, retryAfterMs: 0, nextTat: now };
		this.sweep(now);
		const decision = decide(this.rate, this.tats.get(key) ?? 0, now, cost);
		if (decision.allowed) this.tats.set(key, decision.nextTat);
		return decision;
	}

	get size(): number {
		return this.tats.size;
	}

	private sweep(now: number) {
		if (now - this.sweptAt < 1000) return;
		this.sweptAt = now;
		for (const [key, tat] of this.tats) if (tat <= now) this.tats.delete(key);
	}
}
