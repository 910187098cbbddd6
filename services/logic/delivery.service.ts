import type { Context, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { call } from "../../lib/actions";
import { getConfig } from "../../lib/config";
import { parseConversationId } from "../../lib/conversation-id";
import { DeliveryReport, Push, PushCoalescer } from "../../lib/push-coalescer";
import type { Message } from "../../lib/types";

type DeliveryThis = Service & { pushes: PushCoalescer };

export interface FanoutJob {
	message: Message;
	exceptSocketId?: string;
}

const pushProps = {
	userIds: { type: "array", items: "string" },
	event: "string",
	payload: "any",
	exceptSocketId: { type: "string", optional: true },
	everyone: { type: "boolean", optional: true }
};

/** Params of one push (delivery.toUsers), and of the gateway's api.push, which carries several. */
export const pushParamsRule = pushProps;
export const pushListRule = { pushes: { type: "array", items: { type: "object", props: pushProps } } };

/** The durable channels of large fan-out (seed 004): one job per message, one per batch of members. */
export const FANOUT_MESSAGE_CHANNEL = "gochat.fanout.message";
export const FANOUT_BATCH_CHANNEL = "gochat.fanout.batch";
export const FANOUT_DEAD_LETTER_CHANNEL = "gochat.fanout.dead";

/**
 * Gets events to the right gateways: online recipients are grouped by node and each node gets
 * one `api.push` aimed at it, carrying every push due there at that moment (see PushCoalescer).
 * Messages of 1:1 and small groups go out at once; larger groups and the world room go through
 * the durable channel to task. The world room, which everyone is in, goes to every gateway's
 * sockets without looking at its members.
 */
const DeliveryService: ServiceSchema<ServiceSettingSchema, DeliveryThis> = {
	name: "delivery",

	actions: {
		/** Pushes an event to every connected socket of the given users (or of everyone). */
		toUsers: {
			visibility: "public",
			params: pushParamsRule,
			handler(this: DeliveryThis, ctx: Context<Push>): Promise<DeliveryReport> {
				const { userIds, everyone } = ctx.params;
				if (userIds.length === 0 && !everyone) return Promise.resolve({ nodes: 0, recipients: 0, failedNodes: 0 });
				return this.pushes.deliver(ctx.params);
			}
		},

		/** Sends a stored message to its conversation's members: inline, or through task when large. */
		message: {
			visibility: "public",
			params: { message: "object", exceptSocketId: { type: "string", optional: true } },
			async handler(this: DeliveryThis, ctx: Context<FanoutJob>): Promise<{ queued: boolean }> {
				const { message, exceptSocketId } = ctx.params;
				const parsed = parseConversationId(message.conversationId);
				let userIds: string[] | null = null;
				if (parsed?.type === "direct") {
					userIds = parsed.userIds;
				} else if (parsed?.type === "group") {
					// One more than the inline limit tells "small enough" in the same query.
					const inline = getConfig().groupInlineFanout;
					const members = await call(ctx, "repo.conversations.memberIds", { conversationId: message.conversationId, limit: inline + 1 });
					if (members.length <= inline) userIds = members;
				}
				if (userIds === null) {
					// The world room and large groups: durable, retried, in batches (task.fanout).
					await this.broker.sendToChannel(FANOUT_MESSAGE_CHANNEL, { message, exceptSocketId });
					return { queued: true };
				}
				await this.pushes.deliver({ userIds, event: "message:new", payload: { message }, exceptSocketId });
				return { queued: false };
			}
		}
	},

	created(this: DeliveryThis) {
		this.pushes = new PushCoalescer({
			locate: userIds => this.broker.call("repo.presence.locate", { userIds }),
			gatewayNodes: () => (this.broker.registry.getServiceList({ onlyAvailable: true }) as unknown as Array<{ name: string; nodeID: string }>)
				.filter(service => service.name === "api")
				.map(service => service.nodeID),
			send: (nodeID, pushes) => this.broker.call<number, { pushes: Push[] }>("api.push", { pushes }, { nodeID }).then(() => undefined, err => {
				this.logger.warn(`Push of ${pushes.length} event(s) to node ${nodeID} failed: ${err.message}`);
				throw err;
			})
		});
	}
};

export default DeliveryService;
