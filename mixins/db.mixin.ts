import type { Context, Service, ServiceSchema } from "moleculer";
import DbService from "moleculer-db";
import SequelizeDbAdapter from "moleculer-db-adapter-sequelize";
import type { Model } from "sequelize";
import { brokerConfig } from "../lib/config";
import { acquireDatabase, Database, releaseDatabase } from "../lib/db/database";
import type { Models } from "../lib/db/models";
import { cacheCleanEvent } from "./cache-cleaner.mixin";

/** The actions moleculer-db generates. None is reachable unless a service names it in `actions`. */
const GENERATED_ACTIONS = ["find", "count", "list", "create", "insert", "get", "update", "remove"] as const;
type GeneratedAction = (typeof GENERATED_ACTIONS)[number];

export interface DbMixinOptions {
	/** The model of lib/db/models.ts whose table the service owns. */
	model: keyof Models;
	/** What leaves the service (moleculer-db's settings.fields); all attributes when left out. */
	fields?: readonly string[];
	/** Generated actions the service exposes as moleculer-db defines them. */
	actions?: GeneratedAction[];
}

/** The moleculer-db methods and adapter GoChat's entity services use, typed. */
export interface DbThis {
	/** The process's shared Sequelize instance and models: transactions and what the adapter cannot express. */
	db: Database;
	adapter: {
		findById(id: string): Promise<Model | null>;
		findOne(query: object): Promise<Model | null>;
		updateMany(where: object, update: object): Promise<number>;
		removeMany(where: object): Promise<number>;
	};
	transformDocuments<T>(ctx: Context, params: object, docs: Model | Model[]): Promise<T>;
	entityChanged(type: "created" | "updated" | "removed", json: unknown, ctx: Context): Promise<void>;
	_get<T>(ctx: Context, params: { id: string | string[] }): Promise<T>;
	_find<T>(ctx: Context, params: object): Promise<T[]>;
	_create<T>(ctx: Context, entity: object): Promise<T>;
}

/**
 * The adapter on the one Sequelize instance this process keeps per database URL: handed the
 * migrated model, it never calls sync(). Its disconnect releases the shared instance instead of
 * closing it, so the instance is closed once, when the last repo service using it stops.
 */
class SharedSequelizeAdapter extends SequelizeDbAdapter {
	constructor(private readonly database: Database) {
		super(database.sequelize);
	}

	disconnect(): Promise<void> {
		return releaseDatabase(this.database);
	}
}

/**
 * The persistence mixin of a repo entity service: moleculer-db on the shared Sequelize instance
 * (see lib/db/database.ts), with the service's model, `fields` and `idField`, and no generated
 * action but those named. After each change, one broadcast of cache.clean.<service>, which the
 * cache cleaners of every node act on (mixins/cache-cleaner.mixin.ts).
 */
export function createDbMixin(options: DbMixinOptions): Partial<ServiceSchema> {
	const actions: Record<string, false | { visibility: "public" }> = {};
	for (const action of GENERATED_ACTIONS)
		actions[action] = options.actions?.includes(action) ? { visibility: "public" } : false;
	return {
		mixins: [DbService],
		settings: { idField: "id", fields: options.fields ? [...options.fields] : null },
		actions,

		methods: {
			/**
			 * Replaces moleculer-db's, which cleans the service's whole cache here and broadcasts as
			 * well: the broadcast alone reaches this node too. It names the entity when there is one, so
			 * only its entries go.
			 */
			async entityChanged(this: Service, _type: string, json: unknown, ctx: Context) {
				const id =
					json && typeof json === "object" && !Array.isArray(json)
						? (json as { id?: unknown }).id
						: undefined;
				await ctx.broadcast(cacheCleanEvent(this.fullName), id === undefined ? {} : { id });
			}
		},

		// Before moleculer-db's created, which takes the adapter from the schema; per service instance, on its broker's database.
		merged(this: Service, schema: ServiceSchema) {
			const database = acquireDatabase(brokerConfig(this.broker).databaseUrl);
			(this as Service & DbThis).db = database;
			schema.adapter = new SharedSequelizeAdapter(database);
			schema.model = database.models[options.model];
		}
	};
}
