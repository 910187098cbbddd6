import type { Context, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { call } from "../../lib/contracts";

type PresenceThis = Service & { announce(ctx: Context, userId: string, online: boolean): Promise<number> };

/**
 * Tells a user's 1:1 peers when the user comes online or goes offline (`presence` event). The
 * gateways report the transitions; a gateway node that vanished is reported by repo.presence.
 */
const PresenceService: ServiceSchema<ServiceSettingSchema, PresenceThis> = {
	name: "presence",

	actions: {
		announce: {
			visibility: "public",
			params: { userId: "string", online: "boolean" },
			async handler(this: PresenceThis, ctx: Context<{ userId: string; online: boolean }>): Promise<number> {
				return this.announce(ctx, ctx.params.userId, ctx.params.online);
			}
		}
	},

	events: {
		"presence.offline": {
			params: { userIds: { type: "array", items: "string" } },
			async handler(this: PresenceThis, ctx: Context<{ userIds: string[] }>) {
				for (const userId of ctx.params.userIds) await this.announce(ctx, userId, false);
			}
		}
	},

	methods: {
		/** Returns how many peers were told. */
		async announce(this: PresenceThis, ctx: Context, userId: string, online: boolean): Promise<number> {
			const peers = await call(ctx, "repo.conversations.directPeers", { userId });
			if (peers.length === 0) return 0;
			const { recipients } = await call(ctx, "delivery.toUsers", { userIds: peers, event: "presence", payload: { userId, online } });
			return recipients;
		}
	}
};

export default PresenceService;
