import type { BackoffCounter } from "../backoff";
import type { StateStore } from "./state-store";

export interface LoginThrottleLimits {
	/** Failures per (address, username) before growing delays. */
	pairFailures: number;
	/** Failures per address, whatever the usernames. */
	addressFailures: number;
	/** Failures per username from every address: the ceiling against guessing spread over many addresses. */
	usernameFailures: number;
	/** The longest delay, and how long after the wait its last failure imposed a counter is forgotten. */
	lockoutSeconds: number;
}

export type LoginScope = "pair" | "address" | "username";

export type LoginVerdict<T> =
	{ allowed: true; result: T | null } | { allowed: false; retryAfterSeconds: number; scope: LoginScope };

/** The first delay once a counter's free failures are spent; it doubles with each further one. */
const FIRST_DELAY_MS = 1000;
const SCOPES: LoginScope[] = ["pair", "address", "username"];

/**
 * Failed logins, counted three ways so that nobody can lock someone else out: per (address,
 * username), per address, and per username from every address (the global ceiling). Each
 * attempt is counted as a failure before its password is checked, atomically with the check of
 * all three, so concurrent guesses cannot slip past the limit; a success takes it back.
 *
 * On one node the attempts of one (address, username) run one after another, so a user's own
 * concurrent logins (several tabs) see each other's successes instead of counting as failures.
 */
export class LoginThrottle {
	/** The last attempt queued per (address, username) on this node. */
	private readonly queues = new Map<string, Promise<unknown>>();

	constructor(
		private readonly store: StateStore,
		private readonly limits: LoginThrottleLimits,
		private readonly prefix = "login:"
	) {}

	/**
	 * Runs `check` as one counted attempt unless a counter makes it wait. `check` resolves to the
	 * result of a right password, or null for a wrong one; when it throws (no verdict: overloaded,
	 * database down) the attempt counts nowhere.
	 */
	attempt<T>(address: string, usernameKey: string, check: () => Promise<T | null>): Promise<LoginVerdict<T>> {
		const [pair] = this.keys(address, usernameKey);
		const previous = this.queues.get(pair) ?? Promise.resolve();
		const run = previous.then(() => this.counted(address, usernameKey, check));
		const settled = run.then(
			() => undefined,
			() => undefined
		);
		this.queues.set(pair, settled);
		void settled.then(() => {
			if (this.queues.get(pair) === settled) this.queues.delete(pair);
		});
		return run;
	}

	private async counted<T>(
		address: string,
		usernameKey: string,
		check: () => Promise<T | null>
	): Promise<LoginVerdict<T>> {
		const keys = this.keys(address, usernameKey);
		const decision = await this.store.countAttempt(this.counters(keys));
		if (!decision.allowed) {
			return {
				allowed: false,
				retryAfterSeconds: Math.max(1, Math.ceil(decision.retryAfterMs / 1000)),
				scope: SCOPES[decision.refusedBy]
			};
		}
		let result: T | null;
		try {
			result = await check();
		} catch (err) {
			await this.store.uncountAttempt(...keys);
			throw err;
		}
		if (result !== null) {
			// Right password: this address may try this username afresh; the other counters forget this attempt.
			const [pair, ...others] = keys;
			await Promise.all([this.store.del(pair), this.store.uncountAttempt(...others)]);
		}
		return { allowed: true, result };
	}

	private keys(address: string, usernameKey: string): string[] {
		return [
			`${this.prefix}pair:${address}|${usernameKey}`,
			`${this.prefix}address:${address}`,
			`${this.prefix}username:${usernameKey}`
		];
	}

	private counters([pair, byAddress, byUsername]: string[]): BackoffCounter[] {
		const { pairFailures, addressFailures, usernameFailures, lockoutSeconds } = this.limits;
		const policy = { baseMs: FIRST_DELAY_MS, maxMs: lockoutSeconds * 1000, memoryMs: lockoutSeconds * 1000 };
		return [
			{ key: pair, free: pairFailures, ...policy },
			{ key: byAddress, free: addressFailures, ...policy },
			{ key: byUsername, free: usernameFailures, ...policy }
		];
	}
}
