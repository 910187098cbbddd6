import type { Context, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { call, Params, serviceActions } from "../../lib/contracts";
import type { PresenceCheckpoint } from "../../lib/contracts/logic";
import { NO_RETRY } from "../../lib/resilience";

type PresenceThis = Service & {
	announce(ctx: Context, userId: string, online: boolean): Promise<number>;
	forgetNode(ctx: Context, nodeId: string): Promise<number>;
};

/**
 * Who is online, decided from what the gateways report: a socket connected or disconnected, the
 * users a node holds (heartbeat), a node that stopped or vanished. Keeps the entries in
 * repo.presence and tells a user's 1:1 peers (`presence` event) when the user comes online
 * anywhere or goes offline everywhere.
 */
const PresenceService: ServiceSchema<ServiceSettingSchema, PresenceThis> = {
	name: "presence",

	actions: serviceActions("presence", {
		connected: {
			visibility: "public",
			retryPolicy: NO_RETRY,
			params: { userId: "string", nodeId: "string" },
			async handler(this: PresenceThis, ctx: Context<Params<"presence.connected">>): Promise<void> {
				const { wasOnline } = await call(ctx, "repo.presence.connect", ctx.params);
				if (!wasOnline) await this.announce(ctx, ctx.params.userId, true);
			}
		},

		disconnected: {
			visibility: "public",
			retryPolicy: NO_RETRY,
			params: { userId: "string", nodeId: "string" },
			async handler(this: PresenceThis, ctx: Context<Params<"presence.disconnected">>): Promise<void> {
				const { stillOnline } = await call(ctx, "repo.presence.disconnect", ctx.params);
				if (!stillOnline) await this.announce(ctx, ctx.params.userId, false);
			}
		},

		/** Keeps the node's entries alive for another TTL; announces nothing (the users were online already). */
		heartbeat: {
			visibility: "public",
			retryPolicy: NO_RETRY,
			params: { nodeId: "string", userIds: { type: "array", items: "string" } },
			async handler(this: PresenceThis, ctx: Context<Params<"presence.heartbeat">>): Promise<number> {
				return call(ctx, "repo.presence.refresh", ctx.params);
			}
		},

		/** Each check replaces the node's mark in the store, so it is a write: never retried. */
		checkpoint: {
			visibility: "public",
			retryPolicy: NO_RETRY,
			params: { nodeId: "string", mark: "string" },
			async handler(
				this: PresenceThis,
				ctx: Context<Params<"presence.checkpoint">>
			): Promise<PresenceCheckpoint> {
				return call(ctx, "repo.presence.checkpoint", ctx.params);
			}
		},

		nodeStopped: {
			visibility: "public",
			retryPolicy: NO_RETRY,
			params: { nodeId: "string" },
			async handler(this: PresenceThis, ctx: Context<Params<"presence.nodeStopped">>): Promise<number> {
				return this.forgetNode(ctx, ctx.params.nodeId);
			}
		}
	}),

	events: {
		/** A node that left holds no sockets any more (a gateway that stopped cleanly has forgotten itself already). */
		async "$node.disconnected"(this: PresenceThis, ctx: Context<{ node: { id: string } }>) {
			const nodeId = ctx.params.node.id;
			try {
				const offline = await this.forgetNode(ctx, nodeId);
				if (offline > 0) this.logger.info(`Node ${nodeId} left; ${offline} user(s) went offline`);
			} catch (err) {
				// Not retried here: the entries expire with their TTL anyway.
				this.logger.warn(`Presence of node ${nodeId}, which left, not cleared: ${(err as Error).message}`);
			}
		}
	},

	methods: {
		/** Returns how many peers were told. */
		async announce(this: PresenceThis, ctx: Context, userId: string, online: boolean): Promise<number> {
			const peers = await call(ctx, "repo.members.directPeers", { userId });
			if (peers.length === 0) return 0;
			const payload = { userId, online };
			const { recipients } = await call(ctx, "delivery.toUsers", { userIds: peers, event: "presence", payload });
			return recipients;
		},

		/** Drops the node's entries and announces its users who are now offline everywhere; returns how many. */
		async forgetNode(this: PresenceThis, ctx: Context, nodeId: string): Promise<number> {
			const offline = await call(ctx, "repo.presence.removeNode", { nodeId });
			for (const userId of offline) await this.announce(ctx, userId, false);
			return offline.length;
		}
	}
};

export default PresenceService;
