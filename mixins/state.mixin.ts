import type { Service, ServiceSchema } from "moleculer";
import { sharedMemoryStateStore, StateStore } from "../lib/state/state-store";

export interface StateThis {
	state: StateStore;
}

/** Gives a service the process's state store (sequences, login limits). */
export function createStateMixin(): Partial<ServiceSchema> {
	return {
		created(this: Service) {
			(this as Service & StateThis).state = sharedMemoryStateStore();
		}
	};
}
