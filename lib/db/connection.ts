import fs from "fs";
import path from "path";
import { DataTypes, Sequelize, Transaction } from "sequelize";

/** Connects to SQLite (embedded default) or MySQL/MariaDB from one DATABASE_URL. */
export function createSequelize(databaseUrl: string): Sequelize {
	if (databaseUrl.startsWith("sqlite:")) return createSqlite(databaseUrl.slice("sqlite:".length));
	return new Sequelize(databaseUrl.replace(/^mariadb:/, "mysql:"), {
		dialect: "mysql",
		logging: false,
		timezone: "+00:00",
		// Snowflake IDs exceed 2^53: have mysql2 hand every BIGINT over as a string.
		dialectOptions: { supportBigNumbers: true, bigNumberStrings: true, charset: "utf8mb4" },
		pool: { max: 20, min: 0, idle: 10000, acquire: 30000 }
	});
}

function createSqlite(file: string): Sequelize {
	const inMemory = file === ":memory:";
	if (!inMemory) fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
	return new Sequelize({
		dialect: "sqlite",
		storage: file,
		logging: false,
		// IMMEDIATE takes the write lock up front, so two writers wait (busy_timeout) instead of deadlocking.
		transactionType: Transaction.TYPES.IMMEDIATE,
		// A write outside a transaction can still meet the lock: retry it from JS rather than block a thread long.
		retry: { max: 10, match: [/SQLITE_BUSY/] },
		hooks: {
			afterConnect: async (connection: unknown) => {
				const db = connection as { run(sql: string, cb: (err: Error | null) => void): void };
				const run = (sql: string) => new Promise<void>((resolve, reject) => db.run(sql, err => (err ? reject(err) : resolve())));
				await run("PRAGMA busy_timeout = 1000");
				if (!inMemory) {
					await run("PRAGMA journal_mode = WAL");
					// In WAL mode NORMAL syncs at checkpoints, not every commit: a commit survives a crash
					// of GoChat, only a power cut can lose the last ones. Embedded mode's trade-off.
					await run("PRAGMA synchronous = NORMAL");
				}
				await run("PRAGMA foreign_keys = ON");
			}
		}
	});
}

/**
 * The column type for Snowflake IDs. MySQL stores them as BIGINT UNSIGNED; the sqlite3 driver
 * reads integers as doubles and would round them, so SQLite keeps them as text.
 */
export function idType(sequelize: Sequelize) {
	return sequelize.getDialect() === "sqlite" ? DataTypes.STRING(20) : DataTypes.BIGINT.UNSIGNED;
}

/** MySQL TEXT stops at 64 KiB, below the largest allowed MESSAGE_MAX_BYTES. */
export function longTextType(sequelize: Sequelize) {
	return sequelize.getDialect() === "mysql" ? DataTypes.TEXT("medium") : DataTypes.TEXT;
}

export function toIso(value: unknown): string {
	return (value instanceof Date ? value : new Date(String(value))).toISOString();
}
