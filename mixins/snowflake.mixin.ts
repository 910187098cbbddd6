import type { Service, ServiceSchema } from "moleculer";
import { brokerConfig } from "../lib/config";
import { SnowflakeGenerator } from "../lib/snowflake";

export interface SnowflakeThis {
	nextId(): string;
}

const generators = new Map<number, SnowflakeGenerator>();

/** Services of one process must draw from one generator per worker ID, or IDs would collide. */
function generatorFor(service: Service, workerId: number): SnowflakeGenerator {
	let generator = generators.get(workerId);
	if (!generator) {
		generator = new SnowflakeGenerator(workerId, Date.now, drift =>
			service.logger.warn(`Clock went back ${drift} ms; Snowflake IDs continue from the last timestamp`)
		);
		generators.set(workerId, generator);
	}
	return generator;
}

/** Adds `nextId()`: a 64-bit Snowflake ID as a decimal string, worker from WORKER_ID. */
export function createSnowflakeMixin(): Partial<ServiceSchema> {
	return {
		methods: {
			nextId(this: Service & { idGenerator: SnowflakeGenerator }): string {
				return this.idGenerator.next();
			}
		},
		created(this: Service) {
			(this as Service & { idGenerator: SnowflakeGenerator }).idGenerator = generatorFor(
				this,
				brokerConfig(this.broker).workerId
			);
		}
	};
}
