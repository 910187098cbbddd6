import { Sequelize, Transaction } from "sequelize";
import { createSequelize } from "./connection";
import { defineModels, Models } from "./models";

/** One Sequelize instance per process and URL, shared by every repo service that runs here. */
export interface Database {
	url: string;
	sequelize: Sequelize;
	models: Models;
	/** Runs fn in a transaction; commits when it resolves, rolls back when it throws. */
	transaction<T>(fn: (transaction: Transaction) => Promise<T>): Promise<T>;
}

/**
 * SQLite has one writer at a time, and a writer that waits for the lock blocks one of libuv's
 * four threads: enough waiters and the lock holder can never commit. Queuing write transactions
 * in the process keeps them from waiting on each other inside SQLite.
 */
function serializedTransactions(sequelize: Sequelize): Database["transaction"] {
	let tail: Promise<unknown> = Promise.resolve();
	return fn => {
		const run = tail.then(() => sequelize.transaction(fn));
		tail = run.catch(() => undefined);
		return run;
	};
}

const open = new Map<string, { db: Database; users: number }>();

export function acquireDatabase(url: string): Database {
	let entry = open.get(url);
	if (!entry) {
		const sequelize = createSequelize(url);
		const transaction: Database["transaction"] =
			sequelize.getDialect() === "sqlite" ? serializedTransactions(sequelize) : fn => sequelize.transaction(fn);
		entry = { db: { url, sequelize, models: defineModels(sequelize), transaction }, users: 0 };
		open.set(url, entry);
	}
	entry.users++;
	return entry.db;
}

/** Closes the connection only when the last service using it stops. */
export async function releaseDatabase(db: Database): Promise<void> {
	const entry = open.get(db.url);
	if (!entry || entry.db !== db) return;
	if (--entry.users > 0) return;
	open.delete(db.url);
	await db.sequelize.close();
}

/**
 * True for a violation of a unique key, on either engine. Sequelize reports every SQLite
 * constraint (NOT NULL included) as a unique violation, so the driver's own error decides.
 */
export function isUniqueViolation(err: unknown): boolean {
	const e = err as { name?: string; parent?: { code?: string; message?: string } };
	if (e?.name !== "SequelizeUniqueConstraintError") return false;
	return e.parent?.code === "ER_DUP_ENTRY" || /UNIQUE constraint failed/.test(e.parent?.message ?? "");
}
