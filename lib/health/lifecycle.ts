import type { ServiceBroker } from "moleculer";

/**
 * Lets a part of the process finish its work before the broker stops (the gateway's sockets); it
 * resolves by the deadline (ms since the epoch) with what it could not finish, in words.
 */
export type Drain = (deadline: number) => Promise<string[]>;

/**
 * The process's stage between "started" and "stopped" that Moleculer does not have: draining. Once
 * a drain began, readiness answers 503 on every port, and the parts that registered a drain finish
 * their work (docs/lifecycle.md).
 */
export class Lifecycle {
	private drainingSince: number | null = null;
	private readonly drains = new Map<string, Drain>();

	get draining(): boolean {
		return this.drainingSince !== null;
	}

	onDrain(name: string, drain: Drain): void {
		this.drains.set(name, drain);
	}

	offDrain(name: string): void {
		this.drains.delete(name);
	}

	/** Runs every registered drain at once; a second call only marks the process draining again. */
	async drain(deadline: number): Promise<string[]> {
		if (this.draining) return [];
		this.drainingSince = Date.now();
		const pending = await Promise.all(
			[...this.drains].map(([name, drain]) =>
				drain(deadline).catch(err => [`${name}: drain failed: ${(err as Error).message}`])
			)
		);
		return pending.flat();
	}
}

const lifecycles = new WeakMap<ServiceBroker, Lifecycle>();

/** The broker's lifecycle: one per broker, so brokers side by side in one process (tests) drain apart. */
export function lifecycleOf(broker: ServiceBroker): Lifecycle {
	let lifecycle = lifecycles.get(broker);
	if (!lifecycle) {
		lifecycle = new Lifecycle();
		lifecycles.set(broker, lifecycle);
	}
	return lifecycle;
}
