import crypto from "crypto";
import type { Middleware, ServiceBroker } from "moleculer";
import { brokerConfig, Config, etcdHosts } from "../config";
import { SnowflakeGenerator } from "../snowflake";
import type { EtcdWorkerIdStore as EtcdStore } from "./etcd-store";
import { type IdSource, WorkerIdLease, type WorkerIdStore } from "./lease";
import { RedisWorkerIdStore } from "./redis-store";

export type { IdSource } from "./lease";
export { WorkerIdLease } from "./lease";

type LeaseConfig = Pick<Config, "workerId" | "discoverer" | "redisUrl">;

/**
 * Where this process leases its worker ID, if it does: with WORKER_ID set, nowhere (as given);
 * else etcd when DISCOVERER names it, else Redis when REDIS_URL does, else nowhere (worker 0,
 * one process). etcd wins over Redis: its leases are linearizable through Raft, while a Redis
 * failover may lose a lease key written just before it and give the same ID to a second process.
 */
export function leaseBackend(config: LeaseConfig): "etcd" | "redis" | null {
	if (config.workerId !== null) return null;
	if (config.discoverer) return "etcd";
	if (config.redisUrl) return "redis";
	return null;
}

function createStore(config: Config, owner: string): WorkerIdStore {
	if (leaseBackend(config) === "etcd") {
		// Loaded only when used: the etcd3 client (gRPC, protobuf) adds about 20 MiB to every process.
		// eslint-disable-next-line @typescript-eslint/no-require-imports
		const { EtcdWorkerIdStore } = require("./etcd-store") as { EtcdWorkerIdStore: typeof EtcdStore };
		return new EtcdWorkerIdStore(
			etcdHosts(config.discoverer!),
			config.namespace,
			owner,
			config.workerLeaseTtlSeconds
		);
	}
	return new RedisWorkerIdStore(config.redisUrl!, config.redisPrefix, owner, config.workerLeaseTtlSeconds * 1000);
}

const sources = new WeakMap<object, IdSource>();
const leases = new WeakMap<object, WorkerIdLease>();

/** Brokers of one process with the same fixed worker ID draw from one generator, or their IDs would collide. */
const fixedGenerators = new Map<number, SnowflakeGenerator>();

function fixedSource(broker: ServiceBroker, workerId: number): IdSource {
	let generator = fixedGenerators.get(workerId);
	if (!generator) {
		const logger = broker.getLogger("Snowflake");
		generator = new SnowflakeGenerator(workerId, Date.now, drift =>
			logger.warn(`Clock went back ${drift} ms; Snowflake IDs continue from the last timestamp`)
		);
		fixedGenerators.set(workerId, generator);
	}
	return generator;
}

/**
 * Holds this broker's Snowflake worker ID: leased before any service starts (the start fails
 * when none is free), renewed while the broker runs, released after its services stopped.
 */
export function WorkerIdLeaseMiddleware(): Middleware {
	const middleware = {
		name: "WorkerIdLease",

		created(broker: ServiceBroker) {
			const config = brokerConfig(broker);
			if (!leaseBackend(config)) {
				if (config.workerId === null && config.transporter) {
					broker
						.getLogger("WorkerIdLease")
						.warn(
							"WORKER_ID is unset and neither REDIS_URL nor DISCOVERER is set to lease one: this process uses worker ID 0, " +
								"and two processes that both create IDs would create the same ones"
						);
				}
				sources.set(broker, fixedSource(broker, config.workerId ?? 0));
				return;
			}
			const owner = `${broker.nodeID}/${crypto.randomBytes(6).toString("hex")}`;
			const lease = new WorkerIdLease(createStore(config, owner), {
				ttlSeconds: config.workerLeaseTtlSeconds,
				logger: broker.getLogger("WorkerIdLease")
			});
			leases.set(broker, lease);
			sources.set(broker, lease);
		},

		async starting(broker: ServiceBroker) {
			await leases.get(broker)?.start();
		},

		async stopped(broker: ServiceBroker) {
			await leases.get(broker)?.stop();
		}
	};
	// Moleculer's Middleware type has no room for the `name` every middleware may carry.
	return middleware as unknown as Middleware;
}

/** Where a broker's services take their Snowflake IDs (the snowflake mixin asks once per service). */
export function idSourceFor(broker: ServiceBroker): IdSource {
	const source = sources.get(broker);
	if (source) return source;
	// A broker built without the middleware (a unit test's): only a fixed worker ID is safe.
	const config = brokerConfig(broker);
	if (leaseBackend(config)) {
		throw new Error("This broker must lease its Snowflake worker ID: build it with createBroker()");
	}
	return fixedSource(broker, config.workerId ?? 0);
}

/** The worker ID a broker holds now (null while it holds none); for tests and operators. */
export function leasedWorkerId(broker: ServiceBroker): number | null {
	const lease = leases.get(broker);
	return lease ? lease.heldWorkerId : (brokerConfig(broker).workerId ?? 0);
}
