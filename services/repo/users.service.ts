import type { Context, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { Op } from "sequelize";
import { WORLD_CONVERSATION_ID } from "../../lib/conversation-id";
import { isUniqueViolation } from "../../lib/db/database";
import { toUser } from "../../lib/db/models";
import { fail } from "../../lib/errors";
import type { User } from "../../lib/types";
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

		update: {
			visibility: "public",
			params: {
				id: "string",
				displayName: { type: "string", optional: true },
				avatarUrl: { type: "string", optional: true, nullable: true }
			},
			async handler(this: UsersRepoThis, ctx: Context<{ id: string; displayName?: string; avatarUrl?: string | null }>): Promise<User | null> {
				const { id, displayName, avatarUrl } = ctx.params;
				const changes: Record<string, unknown> = { updated_at: new Date() };
				if (displayName !== undefined) changes.display_name = displayName;
				if (avatarUrl !== undefined) changes.avatar_url = avatarUrl;
				await this.db.models.User.update(changes, { where: { id } });
				const row = await this.db.models.User.findByPk(id);
				return row ? toUser(row) : null;
			}
		}
	}
};

export default UsersRepoService;
