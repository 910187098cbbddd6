import type { Context, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { Op } from "sequelize";
import { Params, serviceActions } from "../../lib/contracts";
import { SESSION_FIELDS } from "../../lib/db/models";
import { NO_RETRY, WRITE_TIMEOUT_MS } from "../../lib/resilience";
import type { Session } from "../../lib/types";
import { cacheCleanEvent, createCacheCleanerMixin } from "../../mixins/cache-cleaner.mixin";
import { createDbMixin, DbThis } from "../../mixins/db.mixin";

type SessionsRepoThis = Service & DbThis;

/** Every authenticated request reads its session; a change cleans it at once, so this only bounds memory. */
const SESSION_TTL_SECONDS = 60;

/**
 * Login sessions: one per login, holding the hash of its current refresh token (its contract
 * hands the hash to logic's refresh check). Revoking or rotating cleans the cached copy on every
 * node through cache.clean.repo.sessions, so a logout takes effect immediately.
 */
const SessionsRepoService: ServiceSchema<ServiceSettingSchema, SessionsRepoThis> = {
	name: "repo.sessions",
	mixins: [
		createDbMixin({ model: "Session", fields: SESSION_FIELDS }),
		createCacheCleanerMixin({ [cacheCleanEvent("repo.sessions")]: ["repo.sessions.get"] })
	],
	dependencies: ["repo.database"],

	actions: serviceActions("repo.sessions", {
		create: {
			visibility: "public",
			retryPolicy: NO_RETRY,
			params: { id: "string", userId: "string", refreshHash: "string", expiresAt: "string" },
			async handler(this: SessionsRepoThis, ctx: Context<Params<"repo.sessions.create">>): Promise<Session> {
				const now = new Date();
				return this._create<Session>(ctx, {
					...ctx.params,
					expiresAt: new Date(ctx.params.expiresAt),
					revokedAt: null,
					createdAt: now,
					updatedAt: now
				});
			}
		},

		// moleculer-db's get answers 404 for an unknown ID; the contract answers null.
		get: {
			visibility: "public",
			cache: { keys: ["id"], ttl: SESSION_TTL_SECONDS },
			params: { id: "string" },
			async handler(this: SessionsRepoThis, ctx: Context<Params<"repo.sessions.get">>): Promise<Session | null> {
				const row = await this.adapter.findById(ctx.params.id);
				return row ? this.transformDocuments<Session>(ctx, {}, row) : null;
			}
		},

		/** Swaps the refresh token only if the presented one is still the current one. */
		rotate: {
			visibility: "public",
			retryPolicy: NO_RETRY,
			params: { id: "string", currentHash: "string", nextHash: "string", expiresAt: "string" },
			async handler(this: SessionsRepoThis, ctx: Context<Params<"repo.sessions.rotate">>): Promise<boolean> {
				const { id, currentHash, nextHash, expiresAt } = ctx.params;
				const now = new Date();
				const changed = await this.adapter.updateMany(
					{ id, refreshHash: currentHash, revokedAt: null, expiresAt: { [Op.gt]: now } },
					{ refreshHash: nextHash, expiresAt: new Date(expiresAt), updatedAt: now }
				);
				if (changed === 0) return false;
				await this.entityChanged("updated", { id }, ctx);
				return true;
			}
		},

		revoke: {
			visibility: "public",
			retryPolicy: NO_RETRY,
			params: { id: "string" },
			async handler(this: SessionsRepoThis, ctx: Context<Params<"repo.sessions.revoke">>): Promise<boolean> {
				const now = new Date();
				const changed = await this.adapter.updateMany(
					{ id: ctx.params.id, revokedAt: null },
					{ revokedAt: now, updatedAt: now }
				);
				if (changed === 0) return false;
				await this.entityChanged("updated", { id: ctx.params.id }, ctx);
				return true;
			}
		},

		revokeForUser: {
			visibility: "public",
			retryPolicy: NO_RETRY,
			params: { userId: "string" },
			async handler(
				this: SessionsRepoThis,
				ctx: Context<Params<"repo.sessions.revokeForUser">>
			): Promise<string[]> {
				const { Session: Sessions } = this.db.models;
				const live = { userId: ctx.params.userId, revokedAt: null };
				const rows = await Sessions.findAll({ attributes: ["id"], where: live, raw: true });
				const ids = (rows as unknown as Array<{ id: string }>).map(row => row.id);
				if (ids.length === 0) return [];
				const now = new Date();
				await this.adapter.updateMany({ ...live, id: { [Op.in]: ids } }, { revokedAt: now, updatedAt: now });
				for (const id of ids) await this.entityChanged("updated", { id }, ctx);
				return ids;
			}
		},

		/** Deletes every session of these users (task.maintenance, before it deletes idle guests). */
		removeForUsers: {
			visibility: "public",
			retryPolicy: NO_RETRY,
			timeout: WRITE_TIMEOUT_MS,
			params: { userIds: { type: "array", items: "string" } },
			async handler(
				this: SessionsRepoThis,
				ctx: Context<Params<"repo.sessions.removeForUsers">>
			): Promise<number> {
				if (ctx.params.userIds.length === 0) return 0;
				const removed = await this.adapter.removeMany({ userId: { [Op.in]: ctx.params.userIds } });
				if (removed > 0) await this.entityChanged("removed", [], ctx);
				return removed;
			}
		},

		/**
		 * Deletes sessions that expired or were revoked before the given time. Nothing cached goes
		 * stale: a cached copy of such a session already says it expired or was revoked.
		 */
		prune: {
			visibility: "public",
			retryPolicy: NO_RETRY,
			timeout: WRITE_TIMEOUT_MS,
			params: { before: "string" },
			async handler(this: SessionsRepoThis, ctx: Context<Params<"repo.sessions.prune">>): Promise<number> {
				const before = new Date(ctx.params.before);
				return this.adapter.removeMany({
					[Op.or]: [{ expiresAt: { [Op.lt]: before } }, { revokedAt: { [Op.lt]: before } }]
				});
			}
		}
	})
};

export default SessionsRepoService;
