import type { Context, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { literal, Op } from "sequelize";
import { Params, serviceActions } from "../../lib/contracts";
import type { Credentials } from "../../lib/contracts/repo";
import { WORLD_CONVERSATION_ID } from "../../lib/conversation-id";
import { isUniqueViolation } from "../../lib/db/database";
import { OWN_PROFILE_FIELDS, pick, USER_FIELDS } from "../../lib/db/models";
import { fail } from "../../lib/errors";
import { NO_RETRY, WRITE_TIMEOUT_MS } from "../../lib/resilience";
import { GROUP_ADD_POLICIES, OwnProfile, User } from "../../lib/types";
import { cacheCleanEvent, createCacheCleanerMixin } from "../../mixins/cache-cleaner.mixin";
import { createDbMixin, DbThis } from "../../mixins/db.mixin";

type UsersRepoThis = Service &
	DbThis & { idleConditions(before: Date, cleanedUp: boolean): ReturnType<typeof literal>[] };

/** Profiles are read on nearly every request; a change cleans them at once (cache.clean.repo.users). */
const PROFILE_TTL_SECONDS = 600;

/**
 * Usernames are [a-z0-9_] once lower-cased, all below "~" in byte order, so a prefix match is the
 * index range [prefix, prefix + "~"), with no LIKE wildcards ("_") to escape.
 */
function prefixRange(prefix: string) {
	return { [Op.gte]: prefix, [Op.lt]: `${prefix}~` };
}

/** The users table. Joining the world room is repo.members.joinWorld's, called by logic after create and at login. */
const UsersRepoService: ServiceSchema<ServiceSettingSchema, UsersRepoThis> = {
	name: "repo.users",
	mixins: [
		createDbMixin({ model: "User", fields: USER_FIELDS }),
		createCacheCleanerMixin({ [cacheCleanEvent("repo.users")]: ["repo.users.get", "repo.users.getMany"] })
	],
	dependencies: ["repo.database"],

	actions: serviceActions("repo.users", {
		create: {
			visibility: "public",
			retryPolicy: NO_RETRY,
			params: {
				id: "string",
				username: "string",
				usernameKey: "string",
				passwordHash: { type: "string", nullable: true },
				displayName: "string",
				isGuest: "boolean"
			},
			async handler(this: UsersRepoThis, ctx: Context<Params<"repo.users.create">>): Promise<User> {
				const now = new Date();
				try {
					return await this._create<User>(ctx, {
						...ctx.params,
						avatarUrl: null,
						createdAt: now,
						updatedAt: now
					});
				} catch (err) {
					if (isUniqueViolation(err))
						fail("USERNAME_TAKEN", `The username "${ctx.params.username}" is taken`);
					throw err;
				}
			}
		},

		// moleculer-db's get answers 404 for an unknown ID; the contract answers null.
		get: {
			visibility: "public",
			cache: { keys: ["id"], ttl: PROFILE_TTL_SECONDS },
			params: { id: "string" },
			async handler(this: UsersRepoThis, ctx: Context<Params<"repo.users.get">>): Promise<User | null> {
				const row = await this.adapter.findById(ctx.params.id);
				return row ? this.transformDocuments<User>(ctx, {}, row) : null;
			}
		},

		// moleculer-db's get with an ID list, under the contract's name and params.
		getMany: {
			visibility: "public",
			cache: { keys: ["ids"], ttl: PROFILE_TTL_SECONDS },
			params: { ids: { type: "array", items: "string" } },
			async handler(this: UsersRepoThis, ctx: Context<Params<"repo.users.getMany">>): Promise<User[]> {
				return ctx.params.ids.length === 0 ? [] : this._get<User[]>(ctx, { id: ctx.params.ids });
			}
		},

		// The hash is outside `fields`: only this action hands it out, to logic's login check.
		findCredentials: {
			visibility: "public",
			params: { usernameKey: "string" },
			async handler(
				this: UsersRepoThis,
				ctx: Context<Params<"repo.users.findCredentials">>
			): Promise<Credentials | null> {
				const row = await this.adapter.findOne({ where: { usernameKey: ctx.params.usernameKey } });
				if (!row) return null;
				return {
					user: await this.transformDocuments<User>(ctx, {}, row),
					passwordHash: (row.get("passwordHash") as string | null) ?? null
				};
			}
		},

		// A range query on username_key with its own order: not expressible as moleculer-db's find.
		searchByPrefix: {
			visibility: "public",
			params: { prefix: "string", limit: { type: "number", integer: true, positive: true } },
			async handler(this: UsersRepoThis, ctx: Context<Params<"repo.users.searchByPrefix">>): Promise<User[]> {
				const rows = await this.db.models.User.findAll({
					where: { usernameKey: prefixRange(ctx.params.prefix.toLowerCase()) },
					order: [["usernameKey", "ASC"]],
					limit: ctx.params.limit
				});
				return this.transformDocuments<User[]>(ctx, {}, rows);
			}
		},

		/** The user's profile with the settings only they see (beyond the public `fields`). */
		getOwn: {
			visibility: "public",
			params: { id: "string" },
			async handler(this: UsersRepoThis, ctx: Context<Params<"repo.users.getOwn">>): Promise<OwnProfile | null> {
				const row = await this.adapter.findById(ctx.params.id);
				return row ? pick<OwnProfile>(row, OWN_PROFILE_FIELDS) : null;
			}
		},

		// Partial changes with null meaning "no avatar" and answering null when missing: not moleculer-db's update.
		update: {
			visibility: "public",
			retryPolicy: NO_RETRY,
			params: {
				id: "string",
				displayName: { type: "string", optional: true },
				avatarUrl: { type: "string", optional: true, nullable: true },
				groupAddPolicy: { type: "enum", values: GROUP_ADD_POLICIES, optional: true }
			},
			async handler(this: UsersRepoThis, ctx: Context<Params<"repo.users.update">>): Promise<OwnProfile | null> {
				const { id, displayName, avatarUrl, groupAddPolicy } = ctx.params;
				const row = await this.adapter.findById(id);
				if (!row) return null;
				const changes: Record<string, unknown> = { updatedAt: new Date() };
				// null only ever means "no avatar"; a name or policy cannot be null.
				if (displayName !== undefined && displayName !== null) changes.displayName = displayName;
				if (avatarUrl !== undefined) changes.avatarUrl = avatarUrl;
				if (groupAddPolicy !== undefined && groupAddPolicy !== null) changes.groupAddPolicy = groupAddPolicy;
				await row.update(changes);
				await this.entityChanged("updated", { id }, ctx);
				return pick<OwnProfile>(row, OWN_PROFILE_FIELDS);
			}
		},

		/**
		 * Up to `limit` guests nobody will miss, oldest first: made before `before`, in no
		 * conversation but the world, never sent a message, no group blocked, no session made or
		 * refreshed since. task.maintenance removes their memberships and sessions, then them.
		 */
		idleGuests: {
			visibility: "public",
			timeout: WRITE_TIMEOUT_MS,
			params: { before: "string", limit: { type: "number", integer: true, positive: true } },
			async handler(this: UsersRepoThis, ctx: Context<Params<"repo.users.idleGuests">>): Promise<string[]> {
				const before = new Date(ctx.params.before);
				const rows = await this.db.models.User.findAll({
					attributes: ["id"],
					where: {
						isGuest: true,
						createdAt: { [Op.lt]: before },
						[Op.and]: this.idleConditions(before, false)
					},
					order: [["createdAt", "ASC"]],
					limit: ctx.params.limit,
					raw: true
				});
				return (rows as unknown as Array<{ id: unknown }>).map(row => String(row.id));
			}
		},

		/**
		 * Deletes those of `ids` that are still idle guests, checked again in the DELETE itself: by
		 * now they must be in no conversation at all and hold no session, so a guest who logged in
		 * since (a session, the world joined again) stays.
		 */
		removeIdleGuests: {
			visibility: "public",
			retryPolicy: NO_RETRY,
			timeout: WRITE_TIMEOUT_MS,
			params: { ids: { type: "array", items: "string" }, before: "string" },
			async handler(this: UsersRepoThis, ctx: Context<Params<"repo.users.removeIdleGuests">>): Promise<number> {
				if (ctx.params.ids.length === 0) return 0;
				const before = new Date(ctx.params.before);
				const removed = await this.adapter.removeMany({
					id: { [Op.in]: ctx.params.ids },
					isGuest: true,
					createdAt: { [Op.lt]: before },
					[Op.and]: this.idleConditions(before, true)
				});
				if (removed > 0) await this.entityChanged("removed", [], ctx);
				return removed;
			}
		}
	}),

	methods: {
		/**
		 * No message sent, no group blocked; no membership but the world and no session used since
		 * `before`, or, once task.maintenance cleaned those up, no membership and no session at all.
		 */
		idleConditions(this: UsersRepoThis, before: Date, cleanedUp: boolean) {
			const escape = (value: unknown) => this.db.sequelize.escape(value as string);
			const otherThanWorld = cleanedUp ? "" : ` AND m.conversation_id <> ${escape(WORLD_CONVERSATION_ID)}`;
			const usedSince = cleanedUp ? "" : ` AND s.updated_at >= ${escape(before)}`;
			return [
				literal(
					`NOT EXISTS (SELECT 1 FROM conversation_members m WHERE m.user_id = users.id${otherThanWorld})`
				),
				literal("NOT EXISTS (SELECT 1 FROM messages g WHERE g.sender_id = users.id)"),
				literal("NOT EXISTS (SELECT 1 FROM group_blocks b WHERE b.user_id = users.id)"),
				literal(`NOT EXISTS (SELECT 1 FROM sessions s WHERE s.user_id = users.id${usedSince})`)
			];
		}
	}
};

export default UsersRepoService;
