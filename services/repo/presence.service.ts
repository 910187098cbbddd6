import crypto from "crypto";
import type { Context, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { Params, serviceActions } from "../../lib/contracts";
import { NO_RETRY } from "../../lib/resilience";
import { ConfigThis, createConfigMixin } from "../../mixins/config.mixin";
import { createStateMixin, StateThis } from "../../mixins/state.mixin";

type PresenceRepoThis = Service &
	ConfigThis &
	StateThis & {
		liveNodes(userIds: string[]): Promise<string[][]>;
		forgetNode(nodeId: string): Promise<string[]>;
		replaceMark(nodeId: string, value: string): Promise<{ previous: string | null; serverId: string }>;
	};

/**
 * Where each user is online: for every user a sorted set of gateway node IDs scored by when
 * the entry expires, refreshed by the gateways' heartbeat, plus for every node the set of its
 * users so a vanished node's entries can be removed at once.
 */
const userKey = (userId: string) => `presence:user:${userId}`;
const nodeKey = (nodeId: string) => `presence:node:${nodeId}`;
/** A random value per gateway node, replaced at each checkpoint: a witness that its entries are still there. */
const markKey = (nodeId: string) => `presence:mark:${nodeId}`;

const PresenceRepoService: ServiceSchema<ServiceSettingSchema, PresenceRepoThis> = {
	name: "repo.presence",
	mixins: [createConfigMixin(), createStateMixin()],

	actions: serviceActions("repo.presence", {
		/** Marks the user online on a node; says whether they were online anywhere before. */
		connect: {
			visibility: "public",
			retryPolicy: NO_RETRY,
			params: { userId: "string", nodeId: "string" },
			async handler(
				this: PresenceRepoThis,
				ctx: Context<Params<"repo.presence.connect">>
			): Promise<{ wasOnline: boolean }> {
				const { userId, nodeId } = ctx.params;
				const [before] = await this.liveNodes([userId]);
				const ttl = this.config.presenceTtlSeconds;
				await this.state.zadd(userKey(userId), [[Date.now() + ttl * 1000, nodeId]]);
				await this.state.expire(userKey(userId), ttl);
				await this.state.sadd(nodeKey(nodeId), userId);
				return { wasOnline: before.some(node => node !== nodeId) };
			}
		},

		/** Marks the user offline on a node; says whether they are still online elsewhere. */
		disconnect: {
			visibility: "public",
			retryPolicy: NO_RETRY,
			params: { userId: "string", nodeId: "string" },
			async handler(
				this: PresenceRepoThis,
				ctx: Context<Params<"repo.presence.disconnect">>
			): Promise<{ stillOnline: boolean }> {
				const { userId, nodeId } = ctx.params;
				await this.state.zrem(userKey(userId), nodeId);
				await this.state.srem(nodeKey(nodeId), userId);
				const [after] = await this.liveNodes([userId]);
				return { stillOnline: after.length > 0 };
			}
		},

		/** The gateway's heartbeat: keeps its users' entries alive for another TTL. */
		refresh: {
			visibility: "public",
			retryPolicy: NO_RETRY,
			params: { nodeId: "string", userIds: { type: "array", items: "string" } },
			async handler(this: PresenceRepoThis, ctx: Context<Params<"repo.presence.refresh">>): Promise<number> {
				const { nodeId, userIds } = ctx.params;
				const ttl = this.config.presenceTtlSeconds;
				const expiresAt = Date.now() + ttl * 1000;
				await Promise.all(
					userIds.map(async userId => {
						await this.state.zadd(userKey(userId), [[expiresAt, nodeId]]);
						await this.state.expire(userKey(userId), ttl);
					})
				);
				if (userIds.length > 0) await this.state.sadd(nodeKey(nodeId), ...userIds);
				return userIds.length;
			}
		},

		/** For each user, the gateway nodes holding their sockets (empty when offline). */
		locate: {
			visibility: "public",
			params: { userIds: { type: "array", items: "string" } },
			async handler(
				this: PresenceRepoThis,
				ctx: Context<Params<"repo.presence.locate">>
			): Promise<Record<string, string[]>> {
				const nodes = await this.liveNodes(ctx.params.userIds);
				const located: Record<string, string[]> = {};
				ctx.params.userIds.forEach((userId, i) => {
					if (nodes[i].length > 0) located[userId] = nodes[i];
				});
				return located;
			}
		},

		/**
		 * A gateway's cheap check, every second, that its entries are still in the store: replaces
		 * its mark with a new one and compares the old one with the mark the gateway last got.
		 * Missing (FLUSHALL, a restart on an empty store, the node forgotten), older (a snapshot
		 * restored) or from another server instance (a restart, even from a snapshot that holds the
		 * newest mark) means not intact (the node must write its entries again). The mark the gateway
		 * holds is `<serverId>.<random>`; it passes the one it got to its next checkpoint.
		 */
		checkpoint: {
			visibility: "public",
			retryPolicy: NO_RETRY,
			params: { nodeId: "string", mark: "string" },
			async handler(
				this: PresenceRepoThis,
				ctx: Context<Params<"repo.presence.checkpoint">>
			): Promise<{ intact: boolean; mark: string }> {
				const next = crypto.randomBytes(8).toString("hex");
				const { previous, serverId } = await this.replaceMark(ctx.params.nodeId, next);
				return {
					intact: previous !== null && ctx.params.mark === `${serverId}.${previous}`,
					mark: `${serverId}.${next}`
				};
			}
		},

		/** Drops every entry of a node; returns the users who are now offline everywhere. */
		removeNode: {
			visibility: "public",
			retryPolicy: NO_RETRY,
			params: { nodeId: "string" },
			async handler(this: PresenceRepoThis, ctx: Context<Params<"repo.presence.removeNode">>): Promise<string[]> {
				return this.forgetNode(ctx.params.nodeId);
			}
		}
	}),

	methods: {
		async liveNodes(this: PresenceRepoThis, userIds: string[]): Promise<string[][]> {
			return this.state.zrangeByScoreMany(userIds.map(userKey), Date.now(), Infinity);
		},

		async forgetNode(this: PresenceRepoThis, nodeId: string): Promise<string[]> {
			const userIds = await this.state.smembers(nodeKey(nodeId));
			await Promise.all(userIds.map(userId => this.state.zrem(userKey(userId), nodeId)));
			// Without its mark the node, if it is alive after all, sees at its next checkpoint that it must write its entries again.
			await this.state.del(nodeKey(nodeId), markKey(nodeId));
			const nodes = await this.liveNodes(userIds);
			return userIds.filter((_, i) => nodes[i].length === 0);
		},

		async replaceMark(this: PresenceRepoThis, nodeId: string, value: string) {
			return this.state.replaceAndIdentify(markKey(nodeId), value, this.config.presenceTtlSeconds);
		}
	}
};

export default PresenceRepoService;
