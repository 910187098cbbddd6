import path from "path";
import { Sequelize } from "sequelize";
import { SequelizeStorage, Umzug } from "umzug";

/** Migrations live in migrations/; compiled runs load the .js files, ts-node and jest the .ts ones. */
export function createMigrator(sequelize: Sequelize, log: (message: string) => void = () => {}) {
	const ext = __filename.endsWith(".ts") ? "ts" : "js";
	return new Umzug({
		migrations: { glob: [`*.${ext}`, { cwd: path.resolve(__dirname, "../../migrations") }] },
		context: sequelize.getQueryInterface(),
		storage: new SequelizeStorage({ sequelize, tableName: "schema_migrations" }),
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
}

export async function migrateUp(sequelize: Sequelize, log?: (message: string) => void): Promise<string[]> {
	const done = await createMigrator(sequelize, log).up();
	return done.map(m => m.name);
}

export async function pendingMigrations(sequelize: Sequelize): Promise<string[]> {
	const pending = await createMigrator(sequelize).pending();
	return pending.map(m => m.name);
}
