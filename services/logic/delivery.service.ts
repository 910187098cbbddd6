import type { Context, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { call } from "../../lib/actions";
import { getConfig } from "../../lib/config";
import { parseConversationId } from "../../lib/conversation-id";
import type { Message } from "../../lib/types";

type DeliveryThis = Service;

export interface PushParams {
	userIds: string[];
	event: string;
	payload: unknown;
	exceptSocketId?: string;
}

export interface DeliveryReport {
	nodes: number;
	recipients: number;
	/** Nodes whose push failed; their users catch up by sync, or the queue retries the batch. */
	failedNodes: number;
}

export interface FanoutJob {
	message: Message;
	exceptSocketId?: string;
}

/** Params of a push, the same for delivery.toUsers and the gateway's api.push. */
export const pushParamsRule = {
	userIds: { type: "array", items: "string" },
	event: "string",
	payload: "any",
	exceptSocketId: { type: "string", optional: true }
};

/** The durable channels of large fan-out (seed 004): one job per message, one per batch of members. */
export const FANOUT_MESSAGE_CHANNEL = "gochat.fanout.message";
export const FANOUT_BATCH_CHANNEL = "gochat.fanout.batch";
export const FANOUT_DEAD_LETTER_CHANNEL = "gochat.fanout.dead";

/** Groups users by the gateway node that holds their sockets. */
export function groupByNode(located: Record<string, string[]>): Map<string, string[]> {
	const byNode = new Map<string, string[]>();
	for (const [userId, nodeIds] of Object.entries(located)) {
		for (const nodeId of nodeIds) {
			const users = byNode.get(nodeId);
			if (users) users.push(userId);
			else byNode.set(nodeId, [userId]);
		}
	}
	return byNode;
}

/**
 * Gets events to the right gateways: online recipients are grouped by node and each node gets
 * one `api.push` aimed at it — never a broadcast to every gateway. Messages of 1:1 and small
 * groups go out at once; larger groups and the world room go through the durable channel to task.
 */
const DeliveryService: ServiceSchema<ServiceSettingSchema, DeliveryThis> = {
	name: "delivery",

	actions: {
		/** Pushes an event to every connected socket of the given users. */
		toUsers: {
			visibility: "public",
			params: pushParamsRule,
			async handler(this: DeliveryThis, ctx: Context<PushParams>): Promise<DeliveryReport> {
				const { userIds, event, payload, exceptSocketId } = ctx.params;
				if (userIds.length === 0) return { nodes: 0, recipients: 0, failedNodes: 0 };
				const located = await call(ctx, "repo.presence.locate", { userIds });
				const byNode = groupByNode(located);
				let failedNodes = 0;
				await Promise.all([...byNode].map(([nodeID, users]) =>
					call(ctx, "api.push", { userIds: users, event, payload, exceptSocketId }, { nodeID }).catch(err => {
						failedNodes++;
						this.logger.warn(`Push of ${event} to node ${nodeID} failed: ${err.message}`);
					})
				));
				return { nodes: byNode.size, recipients: Object.keys(located).length, failedNodes };
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
					const group = await call(ctx, "repo.groups.get", { id: parsed.groupId });
					const inline = getConfig().groupInlineFanout;
					if (group && group.memberCount <= inline) {
						const members = await call(ctx, "repo.groups.members", { groupId: parsed.groupId, limit: inline });
						userIds = members.map(m => m.userId);
					}
				}
				if (userIds === null) {
					await this.broker.sendToChannel(FANOUT_MESSAGE_CHANNEL, { message, exceptSocketId });
					return { queued: true };
				}
				await call(ctx, "delivery.toUsers", { userIds, event: "message:new", payload: { message }, exceptSocketId });
				return { queued: false };
			}
		}
	}
};

export default DeliveryService;
