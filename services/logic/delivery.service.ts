import type { Context, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { call } from "../../lib/contracts";
import { parseConversationId } from "../../lib/conversation-id";
import { ConversationMembersCache } from "../../lib/conversation-members-cache";
import { DeliveryReport, Push, PushCoalescer } from "../../lib/push-coalescer";
import type { Message } from "../../lib/types";
import { MEMBERS_CHANGED_EVENT } from "../repo/membership-cache";
import { ConfigThis, createConfigMixin } from "../../mixins/config.mixin";

type DeliveryThis = Service & ConfigThis & {
	pushes: PushCoalescer;
	groupMembers: ConversationMembersCache;
	recipientsOf(ctx: Context, message: Message): Promise<string[] | null>;
};

export interface FanoutJob {
	message: Message;
	exceptSocketId?: string;
}

/** Params of one push (delivery.toUsers); the gateway's api.push carries several. */
const pushParamsRule = {
	userIds: { type: "array", items: "string" },
	event: "string",
	payload: "any",
	exceptSocketId: { type: "string", optional: true },
	everyone: { type: "boolean", optional: true }
};

export const pushListRule = { pushes: { type: "array", items: { type: "object", props: pushParamsRule } } };

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
	mixins: [createConfigMixin()],

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
				const userIds = await this.recipientsOf(ctx, message);
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

	events: {
		[MEMBERS_CHANGED_EVENT]: {
			params: { conversationId: "string" },
			handler(this: DeliveryThis, ctx: Context<{ conversationId: string }>) {
				this.groupMembers.forget(ctx.params.conversationId);
			}
		}
	},

	methods: {
		/** Who gets a message pushed at once, or null when it goes through the queue (large group, world). */
		async recipientsOf(this: DeliveryThis, ctx: Context, message: Message): Promise<string[] | null> {
			const parsed = parseConversationId(message.conversationId);
			if (parsed?.type === "direct") return parsed.userIds;
			if (parsed?.type !== "group") return null;
			const known = this.groupMembers.get(message.conversationId);
			if (known !== undefined) return known;
			// One more than the inline limit tells "small enough" in the same query.
			const inline = this.config.groupInlineFanout;
			const generation = this.groupMembers.generation;
			const members = await call(ctx, "repo.conversations.memberIds", { conversationId: message.conversationId, limit: inline + 1 });
			const userIds = members.length <= inline ? members : null;
			this.groupMembers.set(message.conversationId, userIds, generation);
			return userIds;
		}
	},

	created(this: DeliveryThis) {
		this.groupMembers = new ConversationMembersCache();
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
