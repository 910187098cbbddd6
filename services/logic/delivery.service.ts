import type { Context, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { channelSendOptions } from "../../lib/channels";
import { call, serviceActions } from "../../lib/contracts";
import { FANOUT_MESSAGE_CHANNEL, FanoutJob } from "../../lib/contracts/channels";
import { MEMBERS_CHANGED_EVENT } from "../../lib/contracts/events";
import { pushParamsRule } from "../../lib/contracts/gateway";
import type { MembersPush } from "../../lib/contracts/logic";
import { parseConversationId } from "../../lib/conversation-id";
import { countFanoutQueued } from "../../lib/metrics";
import { ConversationMembersCache } from "../../lib/conversation-members-cache";
import { DeliveryReport, Push, PushCoalescer } from "../../lib/push-coalescer";
import { NO_RETRY, NEVER_DROPPED } from "../../lib/resilience";
import { conversationIdRule } from "../../lib/validation";
import { ConfigThis, createConfigMixin } from "../../mixins/config.mixin";

type DeliveryThis = Service &
	ConfigThis & {
		pushes: PushCoalescer;
		groupMembers: ConversationMembersCache;
		inlineRecipients(ctx: Context, conversationId: string): Promise<string[] | null>;
	};

const NOBODY: DeliveryReport = { nodes: 0, recipients: 0, failedNodes: 0 };

/**
 * Gets events to the right gateways: online recipients are grouped by node and each node gets
 * one `api.push` aimed at it, carrying every push due there at that moment (see PushCoalescer).
 * One rule (inlineRecipients) says who gets a conversation's events at once: the members of 1:1s
 * and small groups. Messages of larger groups and the world room go through the durable channel
 * to task; ephemeral events (typing) are not sent to those rooms at all.
 */
const DeliveryService: ServiceSchema<ServiceSettingSchema, DeliveryThis> = {
	name: "delivery",
	mixins: [createConfigMixin()],

	actions: serviceActions("delivery", {
		/** Pushes an event to every connected socket of the given users (or of everyone). */
		toUsers: {
			visibility: "public",
			retryPolicy: NO_RETRY,
			params: pushParamsRule,
			handler(this: DeliveryThis, ctx: Context<Push>): Promise<DeliveryReport> {
				const { userIds, everyone } = ctx.params;
				if (userIds.length === 0 && !everyone) return Promise.resolve(NOBODY);
				return this.pushes.deliver(ctx.params);
			}
		},

		/** Sends a stored message to its conversation's members: inline, or through task when large. */
		message: {
			visibility: "public",
			retryPolicy: NO_RETRY,
			params: { message: "object", exceptSocketId: { type: "string", optional: true } },
			async handler(this: DeliveryThis, ctx: Context<FanoutJob>): Promise<{ queued: boolean }> {
				const { message, exceptSocketId } = ctx.params;
				const userIds = await this.inlineRecipients(ctx, message.conversationId);
				if (userIds === null) {
					// The world room and large groups: durable, retried, in batches (task.fanout).
					await this.broker.sendToChannel(
						FANOUT_MESSAGE_CHANNEL,
						{ message, exceptSocketId },
						channelSendOptions(ctx)
					);
					countFanoutQueued(this.broker);
					return { queued: true };
				}
				await this.pushes.deliver({ userIds, event: "message:new", payload: { message }, exceptSocketId });
				return { queued: false };
			}
		},

		toMembers: {
			visibility: "public",
			retryPolicy: NO_RETRY,
			params: {
				conversationId: conversationIdRule,
				event: "string",
				payload: "any",
				exceptUserId: { type: "string", optional: true }
			},
			async handler(this: DeliveryThis, ctx: Context<MembersPush>): Promise<DeliveryReport> {
				const { conversationId, event, payload, exceptUserId } = ctx.params;
				const members = (await this.inlineRecipients(ctx, conversationId)) ?? [];
				const userIds = members.filter(id => id !== exceptUserId);
				if (userIds.length === 0) return NOBODY;
				return this.pushes.deliver({ userIds, event, payload });
			}
		}
	}),

	events: {
		[MEMBERS_CHANGED_EVENT]: {
			bulkhead: NEVER_DROPPED,
			params: { conversationId: "string" },
			handler(this: DeliveryThis, ctx: Context<{ conversationId: string }>) {
				this.groupMembers.forget(ctx.params.conversationId);
			}
		}
	},

	methods: {
		/**
		 * The one rule of inline delivery: who gets a conversation's events pushed at once (every
		 * member of a 1:1, of a group up to GROUP_INLINE_FANOUT members), or null for the rooms
		 * that go through the queue (larger groups, the world).
		 */
		async inlineRecipients(this: DeliveryThis, ctx: Context, conversationId: string): Promise<string[] | null> {
			const parsed = parseConversationId(conversationId);
			if (parsed?.type === "direct") return parsed.userIds;
			if (parsed?.type !== "group") return null;
			const known = this.groupMembers.get(conversationId);
			if (known !== undefined) return known;
			// One more than the inline limit tells "small enough" in the same query.
			const inline = this.config.groupInlineFanout;
			const generation = this.groupMembers.generation;
			const members = await call(ctx, "repo.members.list", { conversationId, limit: inline + 1 });
			const userIds = members.length <= inline ? members.map(m => m.userId) : null;
			this.groupMembers.set(conversationId, userIds, generation);
			return userIds;
		}
	},

	created(this: DeliveryThis) {
		this.groupMembers = new ConversationMembersCache();
		this.pushes = new PushCoalescer({
			locate: userIds => this.broker.call("repo.presence.locate", { userIds }),
			gatewayNodes: () =>
				(
					this.broker.registry.getServiceList({ onlyAvailable: true }) as unknown as Array<{
						name: string;
						nodeID: string;
					}>
				)
					.filter(service => service.name === "api")
					.map(service => service.nodeID),
			send: (nodeID, pushes) =>
				this.broker.call<number, { pushes: Push[] }>("api.push", { pushes }, { nodeID }).then(
					() => undefined,
					err => {
						this.logger.warn(`Push of ${pushes.length} event(s) to node ${nodeID} failed: ${err.message}`);
						throw err;
					}
				)
		});
	}
};

export default DeliveryService;
