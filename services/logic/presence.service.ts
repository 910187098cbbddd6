import type { Context, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { call, Params, serviceActions } from "../../lib/contracts";
import { PRESENCE_QUERY_MAX_USERS, PresenceState } from "../../lib/contracts/client";
import type { PresenceCheckpoint } from "../../lib/contracts/logic";
import { fail } from "../../lib/errors";
import type { AuthMeta } from "../../lib/types";
import { NO_RETRY } from "../../lib/resilience";

/** The longest user ID list a query may carry: 100 IDs of up to 20 digits, and their commas. */
const USER_IDS_MAX_LENGTH = PRESENCE_QUERY_MAX_USERS * 21;

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

		/**
		 * The snapshot a client takes after it connects: which of the named users are online. Only the
		 * caller's 1:1 peers are answered, as only they get its `presence` events; others are null.
		 */
		query: {
			params: { userIds: { type: "string", min: 1, max: USER_IDS_MAX_LENGTH } },
			async handler(
				this: PresenceThis,
				ctx: Context<Params<"presence.query">, AuthMeta>
			): Promise<{ presence: PresenceState[] }> {
				const userIds = parseUserIds(ctx.params.userIds);
				const peers = new Set(
					await call(ctx, "repo.members.directPeers", { userId: ctx.meta.userId!, among: userIds })
				);
				const visible = userIds.filter(userId => peers.has(userId));
				const located = visible.length > 0 ? await call(ctx, "repo.presence.locate", { userIds: visible }) : {};
				return {
					presence: userIds.map(userId => ({
						userId,
						online: peers.has(userId) ? (located[userId]?.length ?? 0) > 0 : null
					}))
				};
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

/** "1,2,3" → unique IDs, in the order given; anything else is refused naming the field. */
function parseUserIds(list: string): string[] {
	const userIds = [...new Set(list.split(",").map(part => part.trim()))];
	if (userIds.some(userId => !/^[1-9][0-9]{0,19}$/.test(userId)))
		fail("INVALID_INPUT", "'userIds' must be user IDs separated by commas");
	if (userIds.length > PRESENCE_QUERY_MAX_USERS)
		fail("INVALID_INPUT", `'userIds' names at most ${PRESENCE_QUERY_MAX_USERS} users`);
	return userIds;
}

export default PresenceService;
