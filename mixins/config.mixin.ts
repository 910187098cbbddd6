import type { Service, ServiceSchema } from "moleculer";
import { brokerConfig, Config } from "../lib/config";

export interface ConfigThis {
	config: Config;
}

/**
 * Gives a service `this.config`: the frozen configuration of the broker it runs on. Hooks that run
 * before `created` (merged) and other mixins' `created` read brokerConfig(this.broker) instead.
 */
export function createConfigMixin(): Partial<ServiceSchema> {
	return {
		created(this: Service) {
			(this as Service & ConfigThis).config = brokerConfig(this.broker);
		}
	};
}
