import { DataTypes, Model, ModelAttributeColumnOptions, ModelStatic, Sequelize } from "sequelize";
import { groupConversationId } from "../conversation-id";
import { idType, longTextType, toIso } from "./connection";

/**
 * Sequelize models over the migrated tables; the schema itself is owned by migrations/. Attributes
 * are the domain's camelCase names mapped to the snake_case columns, and getters turn what the
 * drivers hand back (Date, BIGINT as string, 0/1) into the shapes of lib/types.ts, so
 * `row.get({ plain: true })`, and moleculer-db's transformDocuments with `fields`, yield them.
 */
export interface Models {
	User: ModelStatic<Model>;
	Session: ModelStatic<Model>;
	Conversation: ModelStatic<Model>;
	Member: ModelStatic<Model>;
	Group: ModelStatic<Model>;
	GroupBlock: ModelStatic<Model>;
	Message: ModelStatic<Model>;
	DeadLetter: ModelStatic<Model>;
}

/** What repo.users hands out: the public profile. password_hash never leaves repo this way. */
export const USER_FIELDS = ["id", "username", "displayName", "avatarUrl", "isGuest", "createdAt"] as const;
export const OWN_PROFILE_FIELDS = [...USER_FIELDS, "groupAddPolicy"] as const;
export const SESSION_FIELDS = ["id", "userId", "refreshHash", "expiresAt", "revokedAt"] as const;
export const GROUP_FIELDS = [
	"id",
	"name",
	"avatarUrl",
	"ownerId",
	"memberCount",
	"conversationId",
	"createdAt",
	"updatedAt"
] as const;

type Attribute = ModelAttributeColumnOptions<Model>;

/** A time column read as an ISO-8601 string (null stays null). */
function time(name: string, field: string): Attribute {
	return {
		type: DataTypes.DATE(3),
		field,
		get(this: Model) {
			const value = this.getDataValue(name);
			return value === null || value === undefined ? value : toIso(value);
		}
	};
}

/** A BIGINT or INTEGER read as a number: mysql2 hands BIGINTs over as strings. */
function count(name: string, field: string, type = DataTypes.BIGINT): Attribute {
	return {
		type,
		field,
		get(this: Model) {
			const value = this.getDataValue(name);
			return value === null || value === undefined ? value : Number(value);
		}
	};
}

/** MySQL stores booleans as TINYINT. */
function flag(name: string, field: string): Attribute {
	return {
		type: DataTypes.BOOLEAN,
		field,
		get(this: Model) {
			return Boolean(this.getDataValue(name));
		}
	};
}

export function defineModels(sequelize: Sequelize): Models {
	const ID = idType(sequelize);
	const id = (field: string, primaryKey = false): Attribute => ({ type: ID, field, primaryKey });
	const options = { timestamps: false, freezeTableName: true };
	return {
		User: sequelize.define(
			"users",
			{
				id: id("id", true),
				username: DataTypes.STRING(32),
				usernameKey: { type: DataTypes.STRING(32), field: "username_key" },
				passwordHash: { type: DataTypes.STRING(100), field: "password_hash" },
				displayName: { type: DataTypes.STRING(64), field: "display_name" },
				avatarUrl: { type: DataTypes.STRING(512), field: "avatar_url" },
				isGuest: flag("isGuest", "is_guest"),
				groupAddPolicy: { type: DataTypes.STRING(8), field: "group_add_policy" },
				createdAt: time("createdAt", "created_at"),
				updatedAt: time("updatedAt", "updated_at")
			},
			options
		),
		Session: sequelize.define(
			"sessions",
			{
				id: { type: DataTypes.STRING(36), primaryKey: true },
				userId: id("user_id"),
				refreshHash: { type: DataTypes.STRING(64), field: "refresh_hash" },
				expiresAt: time("expiresAt", "expires_at"),
				revokedAt: time("revokedAt", "revoked_at"),
				createdAt: time("createdAt", "created_at"),
				updatedAt: time("updatedAt", "updated_at")
			},
			options
		),
		Conversation: sequelize.define(
			"conversations",
			{
				id: { type: DataTypes.STRING(64), primaryKey: true },
				type: DataTypes.STRING(8),
				groupId: id("group_id"),
				lastSeq: count("lastSeq", "last_seq"),
				lastMessageId: id("last_message_id"),
				createdAt: time("createdAt", "created_at"),
				updatedAt: time("updatedAt", "updated_at")
			},
			options
		),
		Member: sequelize.define(
			"conversation_members",
			{
				conversationId: { type: DataTypes.STRING(64), field: "conversation_id", primaryKey: true },
				userId: id("user_id", true),
				role: DataTypes.STRING(8),
				readSeq: count("readSeq", "read_seq"),
				joinedAt: time("joinedAt", "joined_at")
			},
			options
		),
		Group: sequelize.define(
			"groups",
			{
				id: id("id", true),
				name: DataTypes.STRING(64),
				avatarUrl: { type: DataTypes.STRING(512), field: "avatar_url" },
				ownerId: id("owner_id"),
				memberCount: count("memberCount", "member_count", DataTypes.INTEGER),
				maxMembers: count("maxMembers", "max_members", DataTypes.INTEGER),
				conversationId: {
					type: DataTypes.VIRTUAL,
					get(this: Model) {
						return groupConversationId(String(this.getDataValue("id")));
					}
				},
				createdAt: time("createdAt", "created_at"),
				updatedAt: time("updatedAt", "updated_at")
			},
			options
		),
		/** Groups a user blocked: nobody can add them to these again. */
		GroupBlock: sequelize.define(
			"group_blocks",
			{
				groupId: id("group_id", true),
				userId: id("user_id", true),
				createdAt: time("createdAt", "created_at")
			},
			options
		),
		Message: sequelize.define(
			"messages",
			{
				id: id("id", true),
				conversationId: { type: DataTypes.STRING(64), field: "conversation_id" },
				senderId: id("sender_id"),
				type: DataTypes.STRING(8),
				content: longTextType(sequelize),
				seq: count("seq", "seq"),
				clientMsgId: { type: DataTypes.STRING(64), field: "client_msg_id" },
				createdAt: time("createdAt", "created_at")
			},
			options
		),
		/** Fan-out jobs that failed every retry; the payload is kept as JSON text. */
		DeadLetter: sequelize.define(
			"dead_letters",
			{
				id: id("id", true),
				channel: DataTypes.STRING(128),
				payload: {
					type: longTextType(sequelize),
					get(this: Model) {
						return JSON.parse(this.getDataValue("payload") as string);
					},
					set(this: Model, value: unknown) {
						this.setDataValue("payload", JSON.stringify(value));
					}
				},
				error: DataTypes.STRING(1024),
				attempts: DataTypes.INTEGER,
				createdAt: time("createdAt", "created_at")
			},
			options
		)
	};
}

/** A row as its domain shape: what its getters make of it. */
export function plain<T>(row: Model): T {
	return row.get({ plain: true }) as T;
}

type Getter = (this: { getDataValue(name: string): unknown }) => unknown;
const gettersOf = new WeakMap<ModelStatic<Model>, Array<[string, Getter]>>();

/**
 * A `raw: true` row (keyed by attribute) through the model's own getters, without building a
 * model instance: for long pages, where instances cost several times the query.
 */
export function fromRaw<T>(model: ModelStatic<Model>, row: object): T {
	let getters = gettersOf.get(model);
	if (!getters) {
		getters = Object.entries(model.getAttributes()).flatMap(([name, a]) =>
			a.get ? [[name, a.get as unknown as Getter]] : []
		);
		gettersOf.set(model, getters);
	}
	const values = row as Record<string, unknown>;
	const self = { getDataValue: (name: string) => values[name] };
	const result: Record<string, unknown> = { ...values };
	for (const [name, get] of getters) result[name] = get.call(self);
	return result as T;
}

/** A row with only the given attributes, for code outside the owning service's transformDocuments. */
export function pick<T>(row: Model, fields: readonly string[]): T {
	const all = row.get({ plain: true }) as Record<string, unknown>;
	const picked: Record<string, unknown> = {};
	for (const field of fields) picked[field] = all[field];
	return picked as T;
}
