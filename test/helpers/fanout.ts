import type { ServiceBroker } from "moleculer";
import type { DeadLetter } from "../../lib/contracts/channels";
import { FANOUT_DEAD_LETTERED_EVENT } from "../../lib/contracts/events";
import type { Message } from "../../lib/types";

/** A stored text message of `conversationId`, as delivery and the fan-out receive it. */
export const sampleMessage = (conversationId: string): Message => ({
	id: "100",
	conversationId,
	senderId: "1",
	type: "text",
	content: "hi",
	seq: 1,
	clientMsgId: "c",
	createdAt: ""
});

/** Resolves with the next dead letter task.fanout stores on this broker's cluster. */
export function nextDeadLetter(broker: ServiceBroker): Promise<DeadLetter & { id: string }> {
	return new Promise(resolve => {
		const probe = broker.createService({
			name: `probe-${Date.now()}`,
			events: {
				[FANOUT_DEAD_LETTERED_EVENT](ctx: { params: unknown }) {
					resolve(ctx.params as DeadLetter & { id: string });
					void broker.destroyService(probe);
				}
			}
		});
	});
}
