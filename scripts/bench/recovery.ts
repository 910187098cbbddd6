import { summarize } from "./stats";

/** One low-rate probe sent after an overload: when it left, and (once acked) how long the ack took and whether it was ok. */
export interface Probe {
	sentAt: number;
	ackMs?: number;
	ok?: boolean;
}

/**
 * When normal service was back: the send time of the first probe of the first `window` consecutive
 * probes that were all accepted with an ack p99 under `limitMs`. Undefined while that cannot be
 * decided yet (a probe in the way is pending but could still be fast), null when no window qualifies.
 */
export function recoveredAt(probes: Probe[], window: number, limitMs: number, now: number): number | null | undefined {
	for (let i = 0; i + window <= probes.length; i++) {
		const slice = probes.slice(i, i + window);
		const pending = slice.filter(p => p.ackMs === undefined);
		// A pending probe older than the limit has already missed it; a younger one may still make it.
		if (pending.some(p => now - p.sentAt < limitMs)) return undefined;
		if (pending.length > 0 || slice.some(p => !p.ok)) continue;
		if (summarize(slice.map(p => p.ackMs!)).p99 < limitMs) return slice[0].sentAt;
	}
	return null;
}
