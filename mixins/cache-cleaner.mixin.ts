import { Errors } from "moleculer";
import type { ActionSchema, Cacher, Context, Service, ServiceBroker, ServiceEvents, ServiceSchema } from "moleculer";
import type { ActionName } from "../lib/contracts";
import { NEVER_DROPPED } from "../lib/resilience";

/** Which events make which of this service's cached actions stale: `{ "members.changed": ["repo.members.role"] }`. */
export type CacheCleaning = Record<string, readonly ActionName[]>;

/** The event moleculer-db's entity services broadcast after a change (see mixins/db.mixin.ts). */
export function cacheCleanEvent(serviceName: string): string {
	return `cache.clean.${serviceName}`;
}

/** A cached action and the cache keys it declares (undefined: keyed by all its params). */
interface CachedAction {
	name: string;
	keys: readonly string[] | undefined;
}

type CleanerThis = Service & { cleanedOn: Map<string, CachedAction[]> };

/**
 * Drops what a change made stale, from one event payload. The payload narrows it: when it
 * carries the action's leading cache keys, only the entries with those values go (all of them
 * when it carries every key); otherwise every entry of the action. Keys and patterns come from
 * the cacher's own getCacheKey, whose default keygen joins key values with "|".
 */
export async function cleanCached(
	cacher: Cacher,
	action: CachedAction,
	payload: Record<string, unknown>
): Promise<void> {
	const keys = action.keys ?? [];
	let known = 0;
	while (known < keys.length && payload[keys[known]] !== undefined) known++;
	if (known > 0 && known === keys.length) {
		await cacher.del(cacher.getCacheKey(action.name, payload, {}, [...keys]));
		return;
	}
	if (known === 0) {
		await cacher.clean(`${action.name}:**`);
		return;
	}
	await cacher.clean(`${cacher.getCacheKey(action.name, payload, {}, keys.slice(0, known))}|**`);
}

function cachedActionsOf(service: Service): Map<string, CachedAction> {
	const cached = new Map<string, CachedAction>();
	for (const [short, definition] of Object.entries(service.schema.actions ?? {})) {
		const cache = definition && typeof definition === "object" ? (definition as ActionSchema).cache : undefined;
		if (!cache) continue;
		const name = `${service.fullName}.${short}`;
		cached.set(name, { name, keys: typeof cache === "object" ? cache.keys : undefined });
	}
	return cached;
}

/**
 * Declares which events clean which cached actions of the service, on every node that runs it.
 * The events are broadcast, so the node that made the change has cleaned its cache when its
 * `ctx.broadcast` resolves, and a shared (Redis) cache is clean for everyone at that moment.
 */
export function createCacheCleanerMixin(cleaning: CacheCleaning): Partial<ServiceSchema> {
	const events: ServiceEvents = {};
	for (const event of Object.keys(cleaning)) {
		events[event] = {
			bulkhead: NEVER_DROPPED,
			async handler(this: CleanerThis, ctx: Context<Record<string, unknown> | null>) {
				const cacher = (this.broker as ServiceBroker).cacher;
				if (!cacher) return;
				await Promise.all(
					this.cleanedOn.get(event)!.map(action => cleanCached(cacher, action, ctx.params ?? {}))
				);
			}
		};
	}
	return {
		events,
		created(this: Service) {
			const cached = cachedActionsOf(this);
			(this as CleanerThis).cleanedOn = new Map(
				Object.entries(cleaning).map(([event, names]) => [
					event,
					names.map(name => {
						const action = cached.get(name);
						if (!action)
							throw new Errors.ServiceSchemaError(
								`${name} is not a cached action of ${this.fullName}`,
								{}
							);
						return action;
					})
				])
			);
		}
	};
}
