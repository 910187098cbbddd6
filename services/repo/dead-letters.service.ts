import type { Context, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { Op } from "sequelize";
import { Params, serviceActions } from "../../lib/contracts";
import type { StoredDeadLetter } from "../../lib/contracts/repo";
import { NO_RETRY } from "../../lib/resilience";
import { cacheCleanEvent, createCacheCleanerMixin } from "../../mixins/cache-cleaner.mixin";
import { createDbMixin, DbThis } from "../../mixins/db.mixin";
import { createSnowflakeMixin, SnowflakeThis } from "../../mixins/snowflake.mixin";

type DeadLettersRepoThis = Service & DbThis & SnowflakeThis;

/**
 * Fan-out jobs that failed every retry, kept in SQL until an operator replays or drops them
 * (gochat dead). `count` is moleculer-db's own action (cached, cleaned on every change).
 */
const DeadLettersRepoService: ServiceSchema<ServiceSettingSchema, DeadLettersRepoThis> = {
	name: "repo.deadLetters",
	mixins: [
		createDbMixin({ model: "DeadLetter", actions: ["count"] }),
		createSnowflakeMixin(),
		createCacheCleanerMixin({ [cacheCleanEvent("repo.deadLetters")]: ["repo.deadLetters.count"] })
	],
	dependencies: ["repo.database"],

	actions: serviceActions("repo.deadLetters", {
		// moleculer-db's create takes the entity as the params; the contract's has no ID or time yet.
		add: {
			visibility: "public",
			retryPolicy: NO_RETRY,
			params: {
				channel: "string",
				payload: "any",
				error: "string",
				attempts: { type: "number", integer: true, min: 0 }
			},
			async handler(
				this: DeadLettersRepoThis,
				ctx: Context<Params<"repo.deadLetters.add">>
			): Promise<StoredDeadLetter> {
				return this._create<StoredDeadLetter>(ctx, { ...ctx.params, id: this.nextId(), createdAt: new Date() });
			}
		},

		/** Oldest first (Snowflake IDs grow with time), a keyset page after `afterId`. */
		list: {
			visibility: "public",
			params: {
				limit: { type: "number", integer: true, positive: true },
				afterId: { type: "string", optional: true }
			},
			async handler(
				this: DeadLettersRepoThis,
				ctx: Context<Params<"repo.deadLetters.list">>
			): Promise<StoredDeadLetter[]> {
				const { limit, afterId } = ctx.params;
				return this._find<StoredDeadLetter>(ctx, {
					query: afterId ? { id: { [Op.gt]: afterId } } : {},
					sort: ["id"],
					limit
				});
			}
		},

		// Many IDs at once: moleculer-db's remove takes one.
		remove: {
			visibility: "public",
			retryPolicy: NO_RETRY,
			params: { ids: { type: "array", items: "string" } },
			async handler(this: DeadLettersRepoThis, ctx: Context<Params<"repo.deadLetters.remove">>): Promise<number> {
				if (ctx.params.ids.length === 0) return 0;
				const removed = await this.adapter.removeMany({ id: { [Op.in]: ctx.params.ids } });
				if (removed > 0) await this.entityChanged("removed", [], ctx);
				return removed;
			}
		}
	})
};

export default DeadLettersRepoService;
