import { DataTypes, QueryInterface } from "sequelize";
import { idType, longTextType } from "../lib/db/connection";

/** The schema (docs/architecture.md#persistence): users, sessions, conversations, members, groups and messages. */
type Migration = { context: QueryInterface };

const MYSQL_TABLE = { charset: "utf8mb4", collate: "utf8mb4_bin" };

export async function up({ context: qi }: Migration): Promise<void> {
	const sequelize = qi.sequelize;
	const ID = idType(sequelize);
	const table = sequelize.getDialect() === "mysql" ? MYSQL_TABLE : {};
	const timestamp = () => ({ type: DataTypes.DATE(3), allowNull: false });

	await qi.createTable(
		"users",
		{
			id: { type: ID, primaryKey: true },
			username: { type: DataTypes.STRING(32), allowNull: false },
			// Lower-cased username: the unique index makes names unique case-insensitively on both engines.
			username_key: { type: DataTypes.STRING(32), allowNull: false, unique: true },
			password_hash: { type: DataTypes.STRING(100), allowNull: true },
			display_name: { type: DataTypes.STRING(64), allowNull: false },
			avatar_url: { type: DataTypes.STRING(512), allowNull: true },
			is_guest: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false },
			created_at: timestamp(),
			updated_at: timestamp()
		},
		table
	);

	await qi.createTable(
		"sessions",
		{
			id: { type: DataTypes.STRING(36), primaryKey: true },
			user_id: { type: ID, allowNull: false },
			refresh_hash: { type: DataTypes.STRING(64), allowNull: false },
			expires_at: timestamp(),
			revoked_at: { type: DataTypes.DATE(3), allowNull: true },
			created_at: timestamp(),
			updated_at: timestamp()
		},
		table
	);
	await qi.addIndex("sessions", ["user_id"], { name: "idx_sessions_user" });
	await qi.addIndex("sessions", ["expires_at"], { name: "idx_sessions_expires" });

	await qi.createTable(
		"conversations",
		{
			id: { type: DataTypes.STRING(64), primaryKey: true },
			type: { type: DataTypes.STRING(8), allowNull: false },
			group_id: { type: ID, allowNull: true },
			last_seq: { type: DataTypes.BIGINT, allowNull: false, defaultValue: 0 },
			last_message_id: { type: ID, allowNull: true },
			created_at: timestamp(),
			updated_at: timestamp()
		},
		table
	);

	await qi.createTable(
		"conversation_members",
		{
			conversation_id: { type: DataTypes.STRING(64), primaryKey: true },
			user_id: { type: ID, primaryKey: true },
			role: { type: DataTypes.STRING(8), allowNull: false, defaultValue: "member" },
			read_seq: { type: DataTypes.BIGINT, allowNull: false, defaultValue: 0 },
			joined_at: timestamp()
		},
		table
	);
	await qi.addIndex("conversation_members", ["user_id"], { name: "idx_members_user" });

	await qi.createTable(
		"groups",
		{
			id: { type: ID, primaryKey: true },
			name: { type: DataTypes.STRING(64), allowNull: false },
			avatar_url: { type: DataTypes.STRING(512), allowNull: true },
			owner_id: { type: ID, allowNull: false },
			member_count: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
			max_members: { type: DataTypes.INTEGER, allowNull: false },
			created_at: timestamp(),
			updated_at: timestamp()
		},
		table
	);
	await qi.addIndex("groups", ["owner_id"], { name: "idx_groups_owner" });

	await qi.createTable(
		"messages",
		{
			id: { type: ID, primaryKey: true },
			conversation_id: { type: DataTypes.STRING(64), allowNull: false },
			sender_id: { type: ID, allowNull: false },
			type: { type: DataTypes.STRING(8), allowNull: false },
			content: { type: longTextType(sequelize), allowNull: false },
			seq: { type: DataTypes.BIGINT, allowNull: false },
			client_msg_id: { type: DataTypes.STRING(64), allowNull: false },
			created_at: timestamp()
		},
		table
	);
	await qi.addIndex("messages", ["conversation_id", "seq"], { unique: true, name: "uk_messages_conversation_seq" });
	await qi.addIndex("messages", ["sender_id", "client_msg_id"], {
		unique: true,
		name: "uk_messages_sender_client_msg"
	});

	const now = new Date();
	await qi.bulkInsert("conversations", [
		{
			id: "world",
			type: "world",
			group_id: null,
			last_seq: 0,
			last_message_id: null,
			created_at: now,
			updated_at: now
		}
	]);
}

export async function down({ context: qi }: Migration): Promise<void> {
	for (const name of ["messages", "groups", "conversation_members", "conversations", "sessions", "users"]) {
		await qi.dropTable(name);
	}
}
