import type { StateStore } from "./state-store";

/** Counts failed logins per username; past the limit, that username is refused for a while. */
export class LoginLimiter {
	constructor(
		private readonly store: StateStore,
		private readonly maxFailures: number,
		private readonly lockoutSeconds: number,
		private readonly prefix = "login-failures:"
	) {}

	/** Seconds until the username may try again, or 0 when it may try now. */
	async retryAfter(usernameKey: string): Promise<number> {
		const key = this.prefix + usernameKey;
		const failures = Number((await this.store.get(key)) ?? 0);
		if (failures < this.maxFailures) return 0;
		return Math.max(1, await this.store.ttl(key));
	}

	async recordFailure(usernameKey: string): Promise<void> {
		const key = this.prefix + usernameKey;
		const failures = await this.store.incr(key);
		// The window starts at the first failure; further failures do not extend it.
		if (failures === 1) await this.store.expire(key, this.lockoutSeconds);
	}

	async reset(usernameKey: string): Promise<void> {
		await this.store.del(this.prefix + usernameKey);
	}
}
