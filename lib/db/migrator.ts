import path from "path";
import { QueryTypes, Sequelize } from "sequelize";
import { SequelizeStorage, Umzug } from "umzug";

const TABLE = "schema_migrations";

/** Databases whose records were checked for old names already (readiness probes ask for pending migrations). */
const renamedIn = new WeakSet<Sequelize>();

/** A migration's recorded name: its file name without .ts/.js, the same for ts-node and compiled runs. */
export function migrationName(fileName: string): string {
	return fileName.replace(/\.(ts|js)$/, "");
}

/**
 * Migrations live in migrations/; compiled runs load the .js files, ts-node and jest the .ts ones.
 * Every command first renames rows recorded with their extension by earlier versions.
 */
export function createMigrator(sequelize: Sequelize, log: (message: string) => void = () => {}) {
	const ext = __filename.endsWith(".ts") ? "ts" : "js";
	const migrator = new Umzug({
		migrations: {
			glob: [`*.${ext}`, { cwd: path.resolve(__dirname, "../../migrations") }],
			resolve: params => ({ ...Umzug.defaultResolver(params), name: migrationName(params.name) })
		},
		context: sequelize.getQueryInterface(),
		storage: new SequelizeStorage({ sequelize, tableName: TABLE }),
		logger: {
			info: event => {
				const { event: kind, name } = event as { event?: string; name?: string };
				if (kind === "migrated") log(`migrated ${name}`);
			},
			warn: event => log(`warning: ${JSON.stringify(event)}`),
			error: event => log(`error: ${JSON.stringify(event)}`),
			debug: () => {}
		}
	});
	migrator.on("beforeCommand", () => renameLegacyNames(sequelize, log));
	return migrator;
}

/**
 * Earlier versions recorded "X.ts" or "X.js", so a database migrated by one kind of run looked
 * unmigrated to the other. Renames them to "X" (dropping a duplicate when both were recorded).
 * Idempotent: once renamed, nothing matches.
 */
async function renameLegacyNames(sequelize: Sequelize, log: (message: string) => void): Promise<void> {
	if (renamedIn.has(sequelize)) return;
	const qi = sequelize.getQueryInterface();
	if (!(await qi.tableExists(TABLE))) return;
	const rows = await sequelize.query<{ name: string }>(`SELECT name FROM ${TABLE}`, { type: QueryTypes.SELECT });
	const names = new Set(rows.map(row => row.name));
	const legacy = [...names].filter(name => migrationName(name) !== name);
	if (legacy.length > 0) await renameRecords(sequelize, names, legacy);
	renamedIn.add(sequelize);
	if (legacy.length > 0) log(`renamed ${legacy.length} migration record(s) to names without extension`);
}

async function renameRecords(sequelize: Sequelize, names: Set<string>, legacy: string[]): Promise<void> {
	const qi = sequelize.getQueryInterface();
	await sequelize.transaction(async transaction => {
		for (const name of legacy) {
			const renamed = migrationName(name);
			if (names.has(renamed)) {
				await qi.bulkDelete(TABLE, { name }, { transaction });
			} else {
				await qi.bulkUpdate(TABLE, { name: renamed }, { name }, { transaction });
				names.add(renamed);
			}
		}
	});
}

export async function migrateUp(sequelize: Sequelize, log?: (message: string) => void): Promise<string[]> {
	const done = await createMigrator(sequelize, log).up();
	return done.map(m => m.name);
}

export async function pendingMigrations(sequelize: Sequelize): Promise<string[]> {
	const pending = await createMigrator(sequelize).pending();
	return pending.map(m => m.name);
}
