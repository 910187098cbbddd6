import type { Context, Service, ServiceSchema } from "moleculer";
import { Model, Op } from "sequelize";
import type { Models, Row } from "../lib/db/models";
import type { DbThis } from "./db.mixin";

/**
 * `get {id}` and `getMany {ids}` for a repo service whose table is keyed by `id`: the reads
 * every entity needs, mapped to its domain shape. Use with createDbMixin().
 */
export function createEntityReadsMixin<T>(model: keyof Models, toEntity: (row: Model | Row) => T): Partial<ServiceSchema> {
	type EntityThis = Service & DbThis;
	return {
		actions: {
			get: {
				visibility: "public",
				params: { id: "string" },
				async handler(this: EntityThis, ctx: Context<{ id: string }>): Promise<T | null> {
					const row = await this.db.models[model].findByPk(ctx.params.id);
					return row ? toEntity(row) : null;
				}
			},

			getMany: {
				visibility: "public",
				params: { ids: { type: "array", items: "string" } },
				async handler(this: EntityThis, ctx: Context<{ ids: string[] }>): Promise<T[]> {
					if (ctx.params.ids.length === 0) return [];
					const rows = await this.db.models[model].findAll({ where: { id: { [Op.in]: ctx.params.ids } } });
					return rows.map(toEntity);
				}
			}
		}
	};
}
