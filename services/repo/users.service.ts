import type { Context, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { literal, Op } from "sequelize";
import { WORLD_CONVERSATION_ID } from "../../lib/conversation-id";
import { isUniqueViolation } from "../../lib/db/database";
import { toOwnProfile, toUser } from "../../lib/db/models";
import { fail } from "../../lib/errors";
import { GROUP_ADD_POLICIES, GroupAddPolicy, OwnProfile, User } from "../../lib/types";
import { createDbMixin, DbThis } from "../../mixins/db.mixin";
import { createEntityReadsMixin } from "../../mixins/entity-reads.mixin";

type UsersRepoThis = Service & DbThis;

export interface CreateUserParams {
	id: string;
	username: string;
	usernameKey: string;
	passwordHash: string | null;
	displayName: string;
	isGuest: boolean;
}

export interface Credentials {
	user: User;
	passwordHash: string | null;
}

/**
 * Usernames are [a-z0-9_] once lower-cased, all below "~" in byte order, so a prefix match is the
 * index range [prefix, prefix + "~"), with no LIKE wildcards ("_") to escape.
 */
function prefixRange(prefix: string) {
	return { [Op.gte]: prefix, [Op.lt]: `${prefix}~` };
}

/** Users table. A new user joins the world room in the same transaction (seed: everyone is in it). */
const UsersRepoService: ServiceSchema<ServiceSettingSchema, UsersRepoThis> = {
	name: "repo.users",
	mixins: [createDbMixin(), createEntityReadsMixin("User", toUser)],
	dependencies: ["repo.database"],

	actions: {
		create: {
			visibility: "public",
			params: {
				id: "string",
				username: "string",
				usernameKey: "string",
				passwordHash: { type: "string", nullable: true },
				displayName: "string",
				isGuest: "boolean"
			},
			async handler(this: UsersRepoThis, ctx: Context<CreateUserParams>): Promise<User> {
				const p = ctx.params;
				const now = new Date();
				const { User, Member } = this.db.models;
				try {
					return await this.db.transaction(async transaction => {
						const row = await User.create({
							id: p.id,
							username: p.username,
							username_key: p.usernameKey,
							password_hash: p.passwordHash,
							display_name: p.displayName,
							avatar_url: null,
							is_guest: p.isGuest,
							created_at: now,
							updated_at: now
						}, { transaction });
						await Member.create({
							conversation_id: WORLD_CONVERSATION_ID,
							user_id: p.id,
							role: "member",
							read_seq: 0,
							joined_at: now
						}, { transaction });
						return toUser(row);
					});
				} catch (err) {
					if (isUniqueViolation(err)) fail("USERNAME_TAKEN", `The username "${p.username}" is taken`);
					throw err;
				}
			}
		},

		findCredentials: {
			visibility: "public",
			params: { usernameKey: "string" },
			async handler(this: UsersRepoThis, ctx: Context<{ usernameKey: string }>): Promise<Credentials | null> {
				const row = await this.db.models.User.findOne({ where: { username_key: ctx.params.usernameKey } });
				return row ? { user: toUser(row), passwordHash: (row.get("password_hash") as string | null) ?? null } : null;
			}
		},

		searchByPrefix: {
			visibility: "public",
			params: { prefix: "string", limit: { type: "number", integer: true, positive: true } },
			async handler(this: UsersRepoThis, ctx: Context<{ prefix: string; limit: number }>): Promise<User[]> {
				const rows = await this.db.models.User.findAll({
					where: { username_key: prefixRange(ctx.params.prefix.toLowerCase()) },
					order: [["username_key", "ASC"]],
					limit: ctx.params.limit
				});
				return rows.map(toUser);
			}
		},

		/** The user's profile with the settings only they see. */
		getOwn: {
			visibility: "public",
			params: { id: "string" },
			async handler(this: UsersRepoThis, ctx: Context<{ id: string }>): Promise<OwnProfile | null> {
				const row = await this.db.models.User.findByPk(ctx.params.id);
				return row ? toOwnProfile(row) : null;
			}
		},

		update: {
			visibility: "public",
			params: {
				id: "string",
				displayName: { type: "string", optional: true },
				avatarUrl: { type: "string", optional: true, nullable: true },
				groupAddPolicy: { type: "enum", values: GROUP_ADD_POLICIES, optional: true }
			},
			async handler(this: UsersRepoThis, ctx: Context<{ id: string; displayName?: string; avatarUrl?: string | null; groupAddPolicy?: GroupAddPolicy }>): Promise<OwnProfile | null> {
				const { id, displayName, avatarUrl, groupAddPolicy } = ctx.params;
				const changes: Record<string, unknown> = { updated_at: new Date() };
				// null only ever means "no avatar"; a name or policy cannot be null.
				if (displayName !== undefined && displayName !== null) changes.display_name = displayName;
				if (avatarUrl !== undefined) changes.avatar_url = avatarUrl;
				if (groupAddPolicy !== undefined && groupAddPolicy !== null) changes.group_add_policy = groupAddPolicy;
				await this.db.models.User.update(changes, { where: { id } });
				const row = await this.db.models.User.findByPk(id);
				return row ? toOwnProfile(row) : null;
			}
		},

		/**
		 * Deletes up to `limit` guests nobody will miss, oldest first: made before `before`, in no
		 * conversation but the world, never sent a message, no session made or refreshed since.
		 * Returns how many went; fewer than `limit` means none are left.
		 */
		pruneGuests: {
			visibility: "public",
			params: { before: "string", limit: { type: "number", integer: true, positive: true } },
			async handler(this: UsersRepoThis, ctx: Context<{ before: string; limit: number }>): Promise<number> {
				const { sequelize, models: { User, Member, Session } } = this.db;
				const before = new Date(ctx.params.before);
				const rows = await User.findAll({
					attributes: ["id"],
					where: {
						is_guest: true,
						created_at: { [Op.lt]: before },
						[Op.and]: [
							literal(`NOT EXISTS (SELECT 1 FROM conversation_members m WHERE m.user_id = users.id AND m.conversation_id <> ${sequelize.escape(WORLD_CONVERSATION_ID)})`),
							literal("NOT EXISTS (SELECT 1 FROM messages g WHERE g.sender_id = users.id)"),
							literal(`NOT EXISTS (SELECT 1 FROM sessions s WHERE s.user_id = users.id AND s.updated_at >= ${sequelize.escape(before)})`)
						]
					},
					order: [["created_at", "ASC"]],
					limit: ctx.params.limit
				});
				const ids = rows.map(row => String(row.get("id")));
				if (ids.length === 0) return 0;
				return this.db.transaction(async transaction => {
					await Session.destroy({ where: { user_id: ids }, transaction });
					await Member.destroy({ where: { user_id: ids, conversation_id: WORLD_CONVERSATION_ID }, transaction });
					await sequelize.query("DELETE FROM group_blocks WHERE user_id IN (:ids)", { replacements: { ids }, transaction });
					return User.destroy({ where: { id: ids }, transaction });
				});
			}
		}
	}
};

export default UsersRepoService;
