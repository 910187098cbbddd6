import type { Context, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { Op } from "sequelize";
import { toSession } from "../../lib/db/models";
import type { Session } from "../../lib/types";
import { serviceActions } from "../../lib/contracts";
import { createDbMixin, DbThis } from "../../mixins/db.mixin";

type SessionsRepoThis = Service & DbThis & { forget(id: string): Promise<void> };

export interface CreateSessionParams {
	id: string;
	userId: string;
	refreshHash: string;
	expiresAt: string;
}

export interface RotateSessionParams {
	id: string;
	currentHash: string;
	nextHash: string;
	expiresAt: string;
}

/**
 * Login sessions: one per login, holding the hash of its current refresh token. Every
 * authenticated request reads one (cached briefly); revoking or rotating drops the cached copy
 * on every node at once, so a logout takes effect immediately.
 */
const SessionsRepoService: ServiceSchema<ServiceSettingSchema, SessionsRepoThis> = {
	name: "repo.sessions",
	mixins: [createDbMixin()],
	dependencies: ["repo.database"],

	actions: serviceActions("repo.sessions", {
		create: {
			visibility: "public",
			params: { id: "string", userId: "string", refreshHash: "string", expiresAt: "string" },
			async handler(this: SessionsRepoThis, ctx: Context<CreateSessionParams>): Promise<Session> {
				const now = new Date();
				const row = await this.db.models.Session.create({
					id: ctx.params.id,
					user_id: ctx.params.userId,
					refresh_hash: ctx.params.refreshHash,
					expires_at: new Date(ctx.params.expiresAt),
					revoked_at: null,
					created_at: now,
					updated_at: now
				});
				return toSession(row);
			}
		},

		get: {
			visibility: "public",
			cache: { keys: ["id"], ttl: 60 },
			params: { id: "string" },
			async handler(this: SessionsRepoThis, ctx: Context<{ id: string }>): Promise<Session | null> {
				const row = await this.db.models.Session.findByPk(ctx.params.id);
				return row ? toSession(row) : null;
			}
		},

		/** Swaps the refresh token only if the presented one is still the current one. */
		rotate: {
			visibility: "public",
			params: { id: "string", currentHash: "string", nextHash: "string", expiresAt: "string" },
			async handler(this: SessionsRepoThis, ctx: Context<RotateSessionParams>): Promise<boolean> {
				const now = new Date();
				const [changed] = await this.db.models.Session.update(
					{ refresh_hash: ctx.params.nextHash, expires_at: new Date(ctx.params.expiresAt), updated_at: now },
					{
						where: {
							id: ctx.params.id,
							refresh_hash: ctx.params.currentHash,
							revoked_at: null,
							expires_at: { [Op.gt]: now }
						}
					}
				);
				await this.forget(ctx.params.id);
				await ctx.broadcast("repo.sessions.changed", { id: ctx.params.id });
				return changed === 1;
			}
		},

		revoke: {
			visibility: "public",
			params: { id: "string" },
			async handler(this: SessionsRepoThis, ctx: Context<{ id: string }>): Promise<boolean> {
				const now = new Date();
				const [changed] = await this.db.models.Session.update(
					{ revoked_at: now, updated_at: now },
					{ where: { id: ctx.params.id, revoked_at: null } }
				);
				await this.forget(ctx.params.id);
				await ctx.broadcast("repo.sessions.changed", { id: ctx.params.id });
				return changed === 1;
			}
		},

		/** Deletes sessions that expired or were revoked before the given time. */
		prune: {
			visibility: "public",
			params: { before: "string" },
			async handler(this: SessionsRepoThis, ctx: Context<{ before: string }>): Promise<number> {
				const before = new Date(ctx.params.before);
				return this.db.models.Session.destroy({
					where: { [Op.or]: [{ expires_at: { [Op.lt]: before } }, { revoked_at: { [Op.lt]: before } }] }
				});
			}
		}
	}),

	events: {
		"repo.sessions.changed": {
			params: { id: "string" },
			async handler(this: SessionsRepoThis, ctx: Context<{ id: string }>) {
				await this.forget(ctx.params.id);
			}
		}
	},

	methods: {
		async forget(this: SessionsRepoThis, id: string) {
			const cacher = this.broker.cacher;
			if (cacher) await cacher.del(cacher.getCacheKey("repo.sessions.get", { id }, {}, ["id"]));
		}
	}
};

export default SessionsRepoService;
