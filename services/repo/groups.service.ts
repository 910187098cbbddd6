import type { Context, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { Params, serviceActions } from "../../lib/contracts";
import { GROUP_FIELDS } from "../../lib/db/models";
import type { Group } from "../../lib/types";
import { cacheCleanEvent, createCacheCleanerMixin } from "../../mixins/cache-cleaner.mixin";
import { createDbMixin, DbThis } from "../../mixins/db.mixin";

type GroupsRepoThis = Service & DbThis;

/** Groups are read on every group request; a change cleans them at once (cache.clean.repo.groups). */
const GROUP_TTL_SECONDS = 600;

/**
 * Groups: reads only here. Rows are made and changed (member count, owner) by repo.members in
 * the transactions that change the members, which then broadcast cache.clean.repo.groups.
 */
const GroupsRepoService: ServiceSchema<ServiceSettingSchema, GroupsRepoThis> = {
	name: "repo.groups",
	mixins: [
		createDbMixin({ model: "Group", fields: GROUP_FIELDS }),
		createCacheCleanerMixin({ [cacheCleanEvent("repo.groups")]: ["repo.groups.get", "repo.groups.getMany"] })
	],
	dependencies: ["repo.database"],

	actions: serviceActions("repo.groups", {
		// moleculer-db's get answers 404 for an unknown ID; the contract answers null.
		get: {
			visibility: "public",
			cache: { keys: ["id"], ttl: GROUP_TTL_SECONDS },
			params: { id: "string" },
			async handler(this: GroupsRepoThis, ctx: Context<Params<"repo.groups.get">>): Promise<Group | null> {
				const row = await this.adapter.findById(ctx.params.id);
				return row ? this.transformDocuments<Group>(ctx, {}, row) : null;
			}
		},

		// moleculer-db's get with an ID list, under the contract's name and params.
		getMany: {
			visibility: "public",
			cache: { keys: ["ids"], ttl: GROUP_TTL_SECONDS },
			params: { ids: { type: "array", items: "string" } },
			async handler(this: GroupsRepoThis, ctx: Context<Params<"repo.groups.getMany">>): Promise<Group[]> {
				return ctx.params.ids.length === 0 ? [] : this._get<Group[]>(ctx, { id: ctx.params.ids });
			}
		}
	})
};

export default GroupsRepoService;
