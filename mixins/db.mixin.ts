import type { Service, ServiceSchema } from "moleculer";
import { brokerConfig } from "../lib/config";
import { acquireDatabase, Database, releaseDatabase } from "../lib/db/database";

export interface DbThis {
	db: Database;
}

/**
 * Gives a repo service the process's shared Sequelize instance and models. The schema comes
 * from migrations (run by repo.database), never from sync().
 */
export function createDbMixin(): Partial<ServiceSchema> {
	return {
		created(this: Service) {
			(this as Service & DbThis).db = acquireDatabase(brokerConfig(this.broker).databaseUrl);
		},
		async stopped(this: Service) {
			await releaseDatabase((this as Service & DbThis).db);
		}
	};
}
