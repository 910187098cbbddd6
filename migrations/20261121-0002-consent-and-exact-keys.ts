import { DataTypes, QueryInterface } from "sequelize";
import { idType } from "../lib/db/connection";

/**
 * - Who may add a user to groups (everyone, contacts, nobody), and the groups a user blocked.
 * - On MariaDB, usernames and clientMsgIds compare byte for byte: utf8mb4_bin pads trailing
 *   spaces ("alice " = "alice"); utf8mb4_nopad_bin does not, as SQLite's BINARY does not.
 * - An index for pruning unused guests.
 */
type Migration = { context: QueryInterface };

const MYSQL_TABLE = { charset: "utf8mb4", collate: "utf8mb4_bin" };

export async function up({ context: qi }: Migration): Promise<void> {
	const sequelize = qi.sequelize;
	const mysql = sequelize.getDialect() === "mysql";
	const ID = idType(sequelize);

	await qi.addColumn("users", "group_add_policy", {
		type: DataTypes.STRING(8),
		allowNull: false,
		defaultValue: "everyone"
	});
	await qi.addIndex("users", ["is_guest", "created_at"], { name: "idx_users_guest_created" });

	await qi.createTable(
		"group_blocks",
		{
			group_id: { type: ID, primaryKey: true },
			user_id: { type: ID, primaryKey: true },
			created_at: { type: DataTypes.DATE(3), allowNull: false }
		},
		mysql ? MYSQL_TABLE : {}
	);
	await qi.addIndex("group_blocks", ["user_id"], { name: "idx_group_blocks_user" });

	if (mysql) {
		await sequelize.query(
			"ALTER TABLE users MODIFY username_key VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL"
		);
		await sequelize.query(
			"ALTER TABLE messages MODIFY client_msg_id VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL"
		);
	}
}

export async function down({ context: qi }: Migration): Promise<void> {
	const sequelize = qi.sequelize;
	if (sequelize.getDialect() === "mysql") {
		await sequelize.query(
			"ALTER TABLE messages MODIFY client_msg_id VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL"
		);
		await sequelize.query(
			"ALTER TABLE users MODIFY username_key VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL"
		);
	}
	await qi.dropTable("group_blocks");
	await qi.removeIndex("users", "idx_users_guest_created");
	await qi.removeColumn("users", "group_add_policy");
}
