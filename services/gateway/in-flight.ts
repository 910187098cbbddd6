type Ack = (reply: unknown) => void;

interface Open {
	event: string;
	respond: Ack | null;
}

/**
 * Socket events this gateway is still working on, each with its ack. A draining gateway waits for
 * them, and answers those still open at its deadline with a retryable error, so no client is left
 * without an answer (docs/lifecycle.md#shutdown).
 */
export class InFlightEvents {
	private readonly open = new Set<Open>();
	private waiters: Array<() => void> = [];

	get size(): number {
		return this.open.size;
	}

	/** Counts the event in until the returned answer runs; it answers once, later answers are dropped. */
	begin(event: string, respond: Ack | null): Ack {
		const entry: Open = { event, respond };
		this.open.add(entry);
		return reply => {
			if (!this.open.delete(entry)) return;
			entry.respond?.(reply);
			if (this.open.size === 0) this.wake();
		};
	}

	/** Resolves true once nothing is in flight, or false at the deadline (ms since the epoch). */
	settled(deadline: number): Promise<boolean> {
		if (this.open.size === 0) return Promise.resolve(true);
		return new Promise(resolve => {
			const timer = setTimeout(() => done(false), Math.max(0, deadline - Date.now()));
			const done = (empty: boolean) => {
				clearTimeout(timer);
				this.waiters = this.waiters.filter(waiter => waiter !== onEmpty);
				resolve(empty);
			};
			const onEmpty = () => done(true);
			this.waiters.push(onEmpty);
		});
	}

	/** What is still open, by event: "2 message:send, 1 sync". */
	describe(): string {
		const counts = new Map<string, number>();
		for (const { event } of this.open) counts.set(event, (counts.get(event) ?? 0) + 1);
		return [...counts].map(([event, count]) => `${count} ${event}`).join(", ");
	}

	/** Answers every open event with `reply`; their own results, when they come, are dropped. */
	answerAll(reply: unknown): void {
		const entries = [...this.open];
		this.open.clear();
		for (const entry of entries) entry.respond?.(reply);
		this.wake();
	}

	private wake() {
		const waiters = this.waiters;
		this.waiters = [];
		for (const waiter of waiters) waiter();
	}
}
