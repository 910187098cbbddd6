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

type SqliteConnection = { run(sql: string, cb: (err: Error | null) => void): void };

interface SqliteConnectionManager {
	getConnection(options?: { uuid?: string }): Promise<SqliteConnection>;
	releaseConnection(connection: SqliteConnection, force?: boolean): void;
}

async function configureSqlite(connection: SqliteConnection, inMemory: boolean): Promise<void> {
	const run = (sql: string) => new Promise<void>((resolve, reject) => connection.run(sql, err => (err ? reject(err) : resolve())));
	await run("PRAGMA busy_timeout = 5000");
	await run("PRAGMA foreign_keys = ON");
	if (inMemory) return;
	await run("PRAGMA journal_mode = WAL");
	// In WAL mode NORMAL syncs at checkpoints, not at every commit: a commit survives a crash of
	// GoChat; only a power cut can lose the last ones. The embedded mode's trade-off for speed.
	await run("PRAGMA synchronous = NORMAL");
}

/**
 * Sequelize's SQLite driver opens and closes a new database handle for every transaction and
 * runs no connect hooks. GoChat queues its write transactions (one at a time, see database.ts),
 * so two long-lived handles do: one for reads and single statements, one for transactions, both
 * configured once.
 */
function useTwoConnections(sequelize: Sequelize, inMemory: boolean): void {
	const manager = sequelize.connectionManager as unknown as SqliteConnectionManager;
	const open = manager.getConnection.bind(manager);
	const configured = new WeakSet<SqliteConnection>();
	manager.getConnection = async (options = {}) => {
		const uuid = options.uuid && options.uuid !== "default" ? "transactions" : "default";
		const connection = await open({ ...options, uuid });
		if (!configured.has(connection)) {
			configured.add(connection);
			await configureSqlite(connection, inMemory);
		}
		return connection;
	};
	// Handles stay open for the process; Sequelize closes them all in sequelize.close().
	manager.releaseConnection = () => undefined;
}

function createSqlite(file: string): Sequelize {
	const inMemory = file === ":memory:";
	if (!inMemory) fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
	const sequelize = new Sequelize({
		dialect: "sqlite",
		storage: file,
		logging: false,
		// IMMEDIATE takes the write lock up front, so a writer waits (busy_timeout) instead of failing midway.
		transactionType: Transaction.TYPES.IMMEDIATE,
		// A single statement can still meet a transaction's lock past busy_timeout: retry it.
		retry: { max: 10, match: [/SQLITE_BUSY/] }
	});
	useTwoConnections(sequelize, inMemory);
	return sequelize;
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
