import fs from "fs";
import path from "path";
import { QueryTypes } from "sequelize";
import { createSequelize } from "../../lib/db/connection";
import { childEnv, ensureBuild, freePort, GoChatProcess, startProcess } from "../helpers/processes";
import { Server, serverSuite } from "../helpers/servers";
import { mariadbDatabase, sqliteDatabase, TestDatabase } from "../helpers/gochat";

/**
 * A database migrated by one kind of run (ts-node: npm run migrate, npm run dev) serves the other
 * (compiled: npm start), both ways, and one whose records carry the old "*.ts" names is upgraded.
 */
const MIGRATIONS = fs
	.readdirSync(path.resolve(__dirname, "../../migrations"))
	.filter(f => f.endsWith(".ts"))
	.map(f => f.replace(/\.ts$/, ""))
	.sort();

/** Each test starts two or three Node processes, some of them compiling TypeScript. */
const PROCESSES_MS = 120_000;

const TS = ["-r", "ts-node/register/transpile-only"];
const MIGRATE = { ts: [...TS, "scripts/migrate.ts"], compiled: ["dist/scripts/migrate.js"] };
const SERVER = { ts: [...TS, "server.ts"], compiled: ["dist/server.js"] };

async function recordedNames(url: string): Promise<string[]> {
	const sequelize = createSequelize(url);
	try {
		const rows = await sequelize.query<{ name: string }>("SELECT name FROM schema_migrations", {
			type: QueryTypes.SELECT
		});
		return rows.map(row => row.name).sort();
	} finally {
		await sequelize.close();
	}
}

async function rewriteNames(url: string, rename: (name: string) => string[]): Promise<void> {
	const sequelize = createSequelize(url);
	try {
		const qi = sequelize.getQueryInterface();
		for (const name of await recordedNames(url)) {
			await qi.bulkDelete("schema_migrations", { name });
			await qi.bulkInsert(
				"schema_migrations",
				rename(name).map(legacy => ({ name: legacy }))
			);
		}
	} finally {
		await sequelize.close();
	}
}

/** Runs a migrate entry to its end; returns what it printed. */
async function migrate(kind: keyof typeof MIGRATE, url: string): Promise<string> {
	const run = startProcess(MIGRATE[kind], childEnv({ DATABASE_URL: url }));
	const code = await new Promise<number | null>(resolve => run.child.once("exit", resolve));
	expect({ code, output: run.output() }).toMatchObject({ code: 0 });
	return run.output();
}

/** Starts a server entry on the database, waits until /ready answers 200, then stops it. */
async function serveUntilReady(kind: keyof typeof SERVER, url: string): Promise<string> {
	const port = await freePort();
	const gochat: GoChatProcess = startProcess(SERVER[kind], childEnv({ DATABASE_URL: url, PORT: String(port) }));
	try {
		await gochat.waitFor(/GoChat started/);
		const ready = await fetch(`http://127.0.0.1:${port}/ready`);
		expect(ready.status).toBe(200);
	} finally {
		expect(await gochat.stop()).toBe(0);
	}
	return gochat.output();
}

function migrationSuite(dialect: string, fresh: () => Promise<TestDatabase>) {
	let database: TestDatabase;

	beforeEach(async () => {
		database = await fresh();
	});
	afterEach(async () => {
		await database?.drop();
	});

	test(
		`${dialect}: migrated by the ts entry, served by the compiled build, nothing re-applied`,
		async () => {
			expect(await migrate("ts", database.url)).toContain(`Applied ${MIGRATIONS.length} migration(s).`);
			expect(await recordedNames(database.url)).toEqual(MIGRATIONS);
			const served = await serveUntilReady("compiled", database.url);
			expect(served).not.toMatch(/migrated \d/);
			expect(await recordedNames(database.url)).toEqual(MIGRATIONS);
		},
		PROCESSES_MS
	);

	test(
		`${dialect}: migrated by the compiled build, served by the ts entry, nothing re-applied`,
		async () => {
			expect(await migrate("compiled", database.url)).toContain(`Applied ${MIGRATIONS.length} migration(s).`);
			expect(await migrate("ts", database.url)).toContain("The database is up to date.");
			const served = await serveUntilReady("ts", database.url);
			expect(served).not.toMatch(/migrated \d/);
			expect(await recordedNames(database.url)).toEqual(MIGRATIONS);
		},
		PROCESSES_MS
	);

	test(
		`${dialect}: records with the old "*.ts"/"*.js" names are renamed, and nothing is re-applied`,
		async () => {
			await migrate("ts", database.url);
			// Earlier versions recorded the file name; a database used by both kinds of run may hold both.
			await rewriteNames(database.url, name =>
				name === MIGRATIONS[0] ? [`${name}.ts`, `${name}.js`] : [`${name}.ts`]
			);
			const served = await serveUntilReady("compiled", database.url);
			expect(served).not.toMatch(/migrated \d/);
			expect(await recordedNames(database.url)).toEqual(MIGRATIONS);
			expect(await migrate("ts", database.url)).toContain("The database is up to date.");
		},
		PROCESSES_MS
	);
}

describe("migration records shared by ts-node and compiled runs", () => {
	beforeAll(() => ensureBuild(), 120_000);

	describe("on SQLite", () => migrationSuite("SQLite", sqliteDatabase));

	serverSuite("mariadb", "on MariaDB", (server: Server) =>
		migrationSuite("MariaDB", () => mariadbDatabase(server.url))
	);
});
