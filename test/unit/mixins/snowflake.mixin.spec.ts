import { BrokerOptions, Service, ServiceBroker } from "moleculer";
import { ConfigMiddleware, loadConfig } from "../../../lib/config";
import { parseSnowflake } from "../../../lib/snowflake";
import { WorkerIdLeaseMiddleware } from "../../../lib/worker-lease";
import { createSnowflakeMixin, SnowflakeThis } from "../../../mixins/snowflake.mixin";

/** A broker with one ID-minting service, configured from `env` as createBroker would. */
async function brokerWith(env: Record<string, string>, withLease = true) {
	const config = loadConfig({ DATABASE_URL: "sqlite::memory:", JWT_SECRET: "x".repeat(32), ...env });
	const middlewares = [ConfigMiddleware(config), ...(withLease ? [WorkerIdLeaseMiddleware()] : [])];
	const broker = new ServiceBroker({
		logger: false,
		middlewares: middlewares as unknown as BrokerOptions["middlewares"]
	});
	const service = broker.createService({ name: "minter", mixins: [createSnowflakeMixin()] }) as Service &
		SnowflakeThis;
	await broker.start();
	return { broker, service };
}

describe("createSnowflakeMixin", () => {
	const brokers: ServiceBroker[] = [];
	afterEach(async () => {
		await Promise.all(brokers.splice(0).map(broker => broker.stop()));
	});

	async function started(env: Record<string, string>, withLease = true) {
		const made = await brokerWith(env, withLease);
		brokers.push(made.broker);
		return made.service;
	}

	test("with no WORKER_ID and no server to lease from, IDs use worker 0 (the embedded default)", async () => {
		const service = await started({});
		expect(parseSnowflake(service.nextId()).workerId).toBe(0);
	});

	test("WORKER_ID is used as given, with no lease", async () => {
		const service = await started({ WORKER_ID: "12" });
		expect(parseSnowflake(service.nextId()).workerId).toBe(12);
	});

	test("two brokers of one process with the same WORKER_ID share one generator, so their IDs never repeat", async () => {
		const a = await started({ WORKER_ID: "5" });
		const b = await started({ WORKER_ID: "5" });
		const ids = new Set<string>();
		for (let i = 0; i < 5000; i++) ids.add(a.nextId()).add(b.nextId());
		expect(ids.size).toBe(10000);
	});

	test("a broker built without the lease middleware refuses to create services that would need a lease", async () => {
		await expect(brokerWith({ REDIS_URL: "redis://127.0.0.1:1" }, false)).rejects.toThrow(
			"This broker must lease its Snowflake worker ID: build it with createBroker()"
		);
	});
});
