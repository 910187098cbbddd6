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
	const run = (sql: string) => runOn(connection, sql);
	await run("PRAGMA busy_timeout = 5000");
	await run("PRAGMA foreign_keys = ON");
	if (inMemory) return;
	await run("PRAGMA journal_mode = WAL");
	// In WAL mode NORMAL syncs at checkpoints, not at every commit: a commit survives a crash of
	// GoChat; only a power cut can lose the last ones. The embedded mode's trade-off for speed.
	await run("PRAGMA synchronous = NORMAL");
}

/** How often the WAL is copied back into the database file, off the writers' path. */
const CHECKPOINT_INTERVAL_MS = 1000;

/**
 * Sequelize's SQLite driver opens and closes a new database handle for every transaction and
 * runs no connect hooks. GoChat queues its write transactions (one at a time, see database.ts),
 * so long-lived handles do, each configured once: one for reads and single statements, one for
 * transactions, and one that checkpoints the WAL every second. Left to itself SQLite checkpoints
 * inside the commit that crosses 1,000 pages, and every send queued behind that commit waits for
 * the copy and its fsync (tens of milliseconds); a PASSIVE checkpoint on its own handle never
 * blocks the writer.
 */
function useDedicatedConnections(sequelize: Sequelize, inMemory: boolean): void {
	const manager = sequelize.connectionManager as unknown as SqliteConnectionManager;
	const open = manager.getConnection.bind(manager);
	const configured = new WeakSet<SqliteConnection>();
	const connection = async (uuid: "default" | "transactions" | "checkpoint") => {
		const handle = await open({ uuid });
		if (!configured.has(handle)) {
			configured.add(handle);
			await configureSqlite(handle, inMemory);
			if (uuid !== "checkpoint" && !inMemory) await runOn(handle, "PRAGMA wal_autocheckpoint = 0");
		}
		return handle;
	};
	manager.getConnection = async (options = {}) =>
		connection(options.uuid && options.uuid !== "default" ? "transactions" : "default");
	// Handles stay open for the process; Sequelize closes them all in sequelize.close().
	manager.releaseConnection = () => undefined;
	if (inMemory) return;

	let checkpointing = false;
	const timer = setInterval(() => {
		if (checkpointing) return;
		checkpointing = true;
		connection("checkpoint")
			.then(handle => runOn(handle, "PRAGMA wal_checkpoint(PASSIVE)"))
			// A failed checkpoint leaves the WAL longer; the next one catches up.
			.catch(() => undefined)
			.finally(() => {
				checkpointing = false;
			});
	}, CHECKPOINT_INTERVAL_MS);
	timer.unref();
	const close = sequelize.close.bind(sequelize);
	sequelize.close = async () => {
		clearInterval(timer);
		return close();
	};
}

function runOn(connection: SqliteConnection, sql: string): Promise<void> {
	return new Promise((resolve, reject) => connection.run(sql, err => (err ? reject(err) : resolve())));
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
	useDedicatedConnections(sequelize, inMemory);
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
