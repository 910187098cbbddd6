import type { Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { serviceActions } from "../../lib/contracts";
import type { DatabaseStatus } from "../../lib/contracts/repo";
import { acquireDatabase, Database, releaseDatabase } from "../../lib/db/database";
import { migrateUp, pendingMigrations } from "../../lib/db/migrator";
import { ConfigThis, createConfigMixin } from "../../mixins/config.mixin";

type DatabaseThis = Service & ConfigThis & { db: Database };

/**
 * Owns the schema: migrates at start (MIGRATE_ON_START) and reports readiness. Not an entity
 * service (no table of its own), so it holds the shared Sequelize instance without moleculer-db.
 */
const DatabaseService: ServiceSchema<ServiceSettingSchema, DatabaseThis> = {
	name: "repo.database",
	mixins: [createConfigMixin()],

	actions: serviceActions("repo.database", {
		status: {
			visibility: "public",
			params: {},
			async handler(this: DatabaseThis): Promise<DatabaseStatus> {
				const dialect = this.db.sequelize.getDialect();
				try {
					await this.db.sequelize.authenticate();
				} catch (err) {
					this.logger.warn("Database unreachable:", (err as Error).message);
					return { reachable: false, migrated: false, pending: [], dialect };
				}
				const pending = await pendingMigrations(this.db.sequelize);
				return { reachable: true, migrated: pending.length === 0, pending, dialect };
			}
		}
	}),

	created(this: DatabaseThis) {
		this.db = acquireDatabase(this.config.databaseUrl);
	},

	async started(this: DatabaseThis) {
		await this.db.sequelize.authenticate();
		if (this.config.migrateOnStart) {
			const applied = await migrateUp(this.db.sequelize, message => this.logger.info(message));
			this.logger.info(
				`Database ${this.db.sequelize.getDialect()} ready (${applied.length} migration(s) applied)`
			);
			return;
		}
		const pending = await pendingMigrations(this.db.sequelize);
		if (pending.length > 0) this.logger.warn(`Pending migrations: ${pending.join(", ")}; run npm run migrate`);
	},

	async stopped(this: DatabaseThis) {
		await releaseDatabase(this.db);
	}
};

export default DatabaseService;
