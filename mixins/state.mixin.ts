import type { Service, ServiceSchema } from "moleculer";
import { brokerConfig } from "../lib/config";
import { acquireStateStore, releaseStateStore, StateStore } from "../lib/state";

export interface StateThis {
	state: StateStore;
}

/** Gives a service the process's state store (Redis or in-memory, from REDIS_URL). */
export function createStateMixin(): Partial<ServiceSchema> {
	return {
		created(this: Service) {
			(this as Service & StateThis).state = acquireStateStore(brokerConfig(this.broker));
		},
		async stopped(this: Service) {
			await releaseStateStore((this as Service & StateThis).state);
		}
	};
}
