import { DataTypes, Model, ModelStatic, Sequelize } from "sequelize";
import type { Conversation, Group, GroupAddPolicy, Membership, Message, OwnProfile, Session, User } from "../types";
import { idType, longTextType, toIso } from "./connection";

/** Sequelize models over the migrated tables. The schema itself is owned by migrations/. */
export interface Models {
	User: ModelStatic<Model>;
	Session: ModelStatic<Model>;
	Conversation: ModelStatic<Model>;
	Member: ModelStatic<Model>;
	Group: ModelStatic<Model>;
	GroupBlock: ModelStatic<Model>;
	Message: ModelStatic<Model>;
}

/** A fresh definition each time: Sequelize writes the column name into the object it is given. */
const date = () => ({ type: DataTypes.DATE(3) });

export function defineModels(sequelize: Sequelize): Models {
	const ID = idType(sequelize);
	const options = { timestamps: false, freezeTableName: true };
	return {
		User: sequelize.define("users", {
			id: { type: ID, primaryKey: true },
			username: DataTypes.STRING(32),
			username_key: DataTypes.STRING(32),
			password_hash: DataTypes.STRING(100),
			display_name: DataTypes.STRING(64),
			avatar_url: DataTypes.STRING(512),
			is_guest: DataTypes.BOOLEAN,
			group_add_policy: DataTypes.STRING(8),
			created_at: date(),
			updated_at: date()
		}, options),
		Session: sequelize.define("sessions", {
			id: { type: DataTypes.STRING(36), primaryKey: true },
			user_id: ID,
			refresh_hash: DataTypes.STRING(64),
			expires_at: date(),
			revoked_at: date(),
			created_at: date(),
			updated_at: date()
		}, options),
		Conversation: sequelize.define("conversations", {
			id: { type: DataTypes.STRING(64), primaryKey: true },
			type: DataTypes.STRING(8),
			group_id: ID,
			last_seq: DataTypes.BIGINT,
			last_message_id: ID,
			created_at: date(),
			updated_at: date()
		}, options),
		Member: sequelize.define("conversation_members", {
			conversation_id: { type: DataTypes.STRING(64), primaryKey: true },
			user_id: { type: ID, primaryKey: true },
			role: DataTypes.STRING(8),
			read_seq: DataTypes.BIGINT,
			joined_at: date()
		}, options),
		Group: sequelize.define("groups", {
			id: { type: ID, primaryKey: true },
			name: DataTypes.STRING(64),
			avatar_url: DataTypes.STRING(512),
			owner_id: ID,
			member_count: DataTypes.INTEGER,
			max_members: DataTypes.INTEGER,
			created_at: date(),
			updated_at: date()
		}, options),
		/** Groups a user blocked: nobody can add them to these again. */
		GroupBlock: sequelize.define("group_blocks", {
			group_id: { type: ID, primaryKey: true },
			user_id: { type: ID, primaryKey: true },
			created_at: date()
		}, options),
		Message: sequelize.define("messages", {
			id: { type: ID, primaryKey: true },
			conversation_id: DataTypes.STRING(64),
			sender_id: ID,
			type: DataTypes.STRING(8),
			content: longTextType(sequelize),
			seq: DataTypes.BIGINT,
			client_msg_id: DataTypes.STRING(64),
			created_at: date()
		}, options)
	};
}

/** A row as plain values, whichever way Sequelize returned it. */
export type Row = Record<string, unknown>;

export function plain(row: Model | Row): Row {
	return row instanceof Model ? (row.get({ plain: true }) as Row) : row;
}

const str = (v: unknown) => String(v);
const optStr = (v: unknown) => (v === null || v === undefined ? null : String(v));

export function toUser(row: Model | Row): User {
	const r = plain(row);
	return {
		id: str(r.id),
		username: str(r.username),
		displayName: str(r.display_name),
		avatarUrl: optStr(r.avatar_url),
		isGuest: Boolean(r.is_guest),
		createdAt: toIso(r.created_at)
	};
}

export function toOwnProfile(row: Model | Row): OwnProfile {
	return { ...toUser(row), groupAddPolicy: plain(row).group_add_policy as GroupAddPolicy };
}

export function toSession(row: Model | Row): Session {
	const r = plain(row);
	return {
		id: str(r.id),
		userId: str(r.user_id),
		refreshHash: str(r.refresh_hash),
		expiresAt: toIso(r.expires_at),
		revokedAt: r.revoked_at ? toIso(r.revoked_at) : null
	};
}

export function toConversation(row: Model | Row): Conversation {
	const r = plain(row);
	return {
		id: str(r.id),
		type: r.type as Conversation["type"],
		groupId: optStr(r.group_id),
		lastSeq: Number(r.last_seq),
		lastMessageId: optStr(r.last_message_id),
		createdAt: toIso(r.created_at),
		updatedAt: toIso(r.updated_at)
	};
}

export function toMembership(row: Model | Row): Membership {
	const r = plain(row);
	return {
		conversationId: str(r.conversation_id),
		userId: str(r.user_id),
		role: r.role as Membership["role"],
		readSeq: Number(r.read_seq),
		joinedAt: toIso(r.joined_at)
	};
}

export function toGroup(row: Model | Row): Group {
	const r = plain(row);
	return {
		id: str(r.id),
		name: str(r.name),
		avatarUrl: optStr(r.avatar_url),
		ownerId: str(r.owner_id),
		memberCount: Number(r.member_count),
		conversationId: `group_${r.id}`,
		createdAt: toIso(r.created_at),
		updatedAt: toIso(r.updated_at)
	};
}

export function toMessage(row: Model | Row): Message {
	const r = plain(row);
	return {
		id: str(r.id),
		conversationId: str(r.conversation_id),
		senderId: str(r.sender_id),
		type: r.type as Message["type"],
		content: str(r.content),
		seq: Number(r.seq),
		clientMsgId: str(r.client_msg_id),
		createdAt: toIso(r.created_at)
	};
}
