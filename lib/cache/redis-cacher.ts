import { Cachers, LoggerInstance } from "moleculer";

/**
 * Moleculer's Redis cacher, except that a failed cache write is logged, not thrown. Moleculer's
 * cacher middleware fires `set` after an action answered and never handles its rejection, so
 * while Redis is down every cached call left an unhandled rejection, which ends a Node process.
 * The answer was already given; a cache write that did not happen only costs a later read.
 */
export class RedisCacher extends Cachers.Redis {
	private lastWarning = 0;

	async set(key: string, data: unknown, ttl?: number): Promise<unknown> {
		try {
			return await super.set(key, data, ttl);
		} catch (err) {
			if (Date.now() - this.lastWarning > 10_000) {
				this.lastWarning = Date.now();
				(this as unknown as { logger: LoggerInstance }).logger.warn(
					`Cache write failed (Redis unreachable?); answers are not cached meanwhile: ${(err as Error).message}`
				);
			}
			return undefined;
		}
	}
}
