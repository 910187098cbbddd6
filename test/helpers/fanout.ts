import type { ServiceBroker } from "moleculer";
import type { DeadLetter } from "../../middlewares/channel-retry.middleware";

/** Resolves with the next dead letter task.fanout reports on this broker. */
export function nextDeadLetter(broker: ServiceBroker): Promise<DeadLetter> {
	return new Promise(resolve => {
		const probe = broker.createService({
			name: `probe-${Date.now()}`,
			events: {
				"fanout.deadLettered"(ctx: { params: unknown }) {
					resolve(ctx.params as DeadLetter);
					void broker.destroyService(probe);
				}
			}
		});
	});
}
