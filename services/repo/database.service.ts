import type { Context, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { migrateUp, pendingMigrations } from "../../lib/db/migrator";
import { createDbMixin, DbThis } from "../../mixins/db.mixin";
import { ConfigThis, createConfigMixin } from "../../mixins/config.mixin";

type DatabaseThis = Service & ConfigThis & DbThis;

export interface DatabaseStatus {
	reachable: boolean;
	migrated: boolean;
	pending: string[];
	dialect: string;
}

/** Owns the schema: migrates at start (MIGRATE_ON_START) and reports readiness. */
const DatabaseService: ServiceSchema<ServiceSettingSchema, DatabaseThis> = {
	name: "repo.database",
	mixins: [createConfigMixin(), createDbMixin()],

	actions: {
		status: {
			visibility: "public",
			params: {},
			async handler(this: DatabaseThis, _ctx: Context): Promise<DatabaseStatus> {
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
	},

	async started(this: DatabaseThis) {
		await this.db.sequelize.authenticate();
		if (this.config.migrateOnStart) {
			const applied = await migrateUp(this.db.sequelize, message => this.logger.info(message));
			this.logger.info(`Database ${this.db.sequelize.getDialect()} ready (${applied.length} migration(s) applied)`);
			return;
		}
		const pending = await pendingMigrations(this.db.sequelize);
		if (pending.length > 0) this.logger.warn(`Pending migrations: ${pending.join(", ")}; run npm run migrate`);
	}
};

export default DatabaseService;
