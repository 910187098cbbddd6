import { ConfigError, loadConfig } from "../lib/config";
import { createSequelize } from "../lib/db/connection";
import { migrateUp } from "../lib/db/migrator";

/** `npm run migrate`: applies pending migrations to DATABASE_URL and exits. */
async function main() {
	const config = loadConfig();
	const sequelize = createSequelize(config.databaseUrl);
	try {
		const applied = await migrateUp(sequelize, message => console.log(message));
		console.log(applied.length ? `Applied ${applied.length} migration(s).` : "The database is up to date.");
	} finally {
		await sequelize.close();
	}
}

main().catch(err => {
	console.error(err instanceof ConfigError ? `Invalid configuration, ${err.message}` : err);
	process.exit(1);
});
