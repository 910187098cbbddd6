import { DataTypes, QueryInterface } from "sequelize";
import { idType, longTextType } from "../lib/db/connection";

/**
 * Fan-out jobs that failed every retry are kept here until an operator replays or drops them
 * (REPL: gochat dead), so a dead letter survives a restart of task and of the queue server.
 */
type Migration = { context: QueryInterface };

export async function up({ context: qi }: Migration): Promise<void> {
	const sequelize = qi.sequelize;
	const mysql = sequelize.getDialect() === "mysql";
	await qi.createTable(
		"dead_letters",
		{
			id: { type: idType(sequelize), primaryKey: true },
			channel: { type: DataTypes.STRING(128), allowNull: false },
			payload: { type: longTextType(sequelize), allowNull: false },
			error: { type: DataTypes.STRING(1024), allowNull: false },
			attempts: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
			created_at: { type: DataTypes.DATE(3), allowNull: false }
		},
		mysql ? { charset: "utf8mb4", collate: "utf8mb4_bin" } : {}
	);
}

export async function down({ context: qi }: Migration): Promise<void> {
	await qi.dropTable("dead_letters");
}
