import type { ServiceBroker } from "moleculer";
import { lifecycleOf } from "./lifecycle";

/** Of SHUTDOWN_TIMEOUT, this much (at most half) is kept for broker.stop after the drain. */
const STOP_RESERVE_MS = 2000;

export interface ShutdownOutcome {
	/** Everything finished within the timeout. */
	clean: boolean;
	elapsedMs: number;
	/** What was still under way, in words: left unfinished at the drain's deadline, or at the hard one. */
	pending: string[];
}

type Tracked = { action?: { name: string }; event?: { name: string } };

/** Requests Moleculer's tracking still waits for: calls this node made to others, and its services' own. */
function runningRequests(broker: ServiceBroker): string[] {
	const lists = [
		(broker as unknown as { _trackedContexts?: Tracked[] })._trackedContexts ?? [],
		...broker.services.map(
			service => (service as unknown as { _trackedContexts?: Tracked[] })._trackedContexts ?? []
		)
	];
	const counts = new Map<string, number>();
	for (const ctx of lists.flat()) {
		const name = ctx.action?.name ?? ctx.event?.name ?? "unknown";
		counts.set(name, (counts.get(name) ?? 0) + 1);
	}
	return [...counts].map(([name, count]) => `${count} ${name}`);
}

/**
 * The stop SIGTERM and SIGINT run (docs/lifecycle.md#shutdown): drain (readiness 503, a gateway
 * hands its clients to other gateways and finishes their events), then broker.stop (Moleculer
 * waits for the requests it tracks, services stop, the queue hands back unacknowledged jobs),
 * all within `timeoutMs`. At that deadline it resolves anyway, saying what was still pending; the
 * caller exits.
 */
export async function shutdown(broker: ServiceBroker, timeoutMs: number): Promise<ShutdownOutcome> {
	const startedAt = Date.now();
	const deadline = startedAt + timeoutMs;
	let stage = "draining";
	const pending: string[] = [];
	const work = (async () => {
		pending.push(...(await lifecycleOf(broker).drain(deadline - Math.min(STOP_RESERVE_MS, timeoutMs / 2))));
		stage = "stopping the broker";
		await broker.stop();
		stage = "stopped";
	})();
	let timer: NodeJS.Timeout | undefined;
	const timedOut = new Promise<"timeout">(resolve => {
		timer = setTimeout(() => resolve("timeout"), timeoutMs);
	});
	const outcome = await Promise.race([work.then(() => "done" as const), timedOut]);
	clearTimeout(timer);
	const elapsedMs = Date.now() - startedAt;
	if (outcome === "done") return { clean: pending.length === 0, elapsedMs, pending };
	const running = runningRequests(broker);
	return {
		clean: false,
		elapsedMs,
		pending: [
			...pending,
			`still ${stage} after ${timeoutMs} ms`,
			...(running.length > 0 ? [`requests running: ${running.join(", ")}`] : [])
		]
	};
}
