import type { Service, ServiceSchema } from "moleculer";
import { IdSource, idSourceFor } from "../lib/worker-lease";

export interface SnowflakeThis {
	nextId(): string;
}

/**
 * Adds `nextId()`: a 64-bit Snowflake ID as a decimal string, from the broker's worker ID
 * (WORKER_ID, or the one it leased; see lib/worker-lease). While a leased ID is lost it throws
 * WORKER_ID_LOST (503, retryable) rather than risk a duplicate.
 */
export function createSnowflakeMixin(): Partial<ServiceSchema> {
	return {
		methods: {
			nextId(this: Service & { idSource: IdSource }): string {
				return this.idSource.next();
			}
		},
		created(this: Service) {
			(this as Service & { idSource: IdSource }).idSource = idSourceFor(this.broker);
		}
	};
}
