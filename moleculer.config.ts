import { BrokerOptions, ServiceBroker } from "moleculer";
import { RedisCacher } from "./lib/cache/redis-cacher";
import { createChannelsMiddleware } from "./lib/channels";
import { Config, ConfigMiddleware } from "./lib/config";
import { serviceFiles } from "./lib/service-files";
import { SafeValidator } from "./lib/validator";
import { ChannelRetryMiddleware } from "./middlewares/channel-retry.middleware";
import { FairBulkheadMiddleware } from "./middlewares/fair-bulkhead.middleware";

/**
 * Broker options, every one named. The embedded default runs all services in one process with
 * no transporter, an in-memory cacher and in-process channels; the environment switches each
 * part to its server (TRANSPORTER, REDIS_URL, QUEUE_URL).
 */
export function createBrokerOptions(config: Config): BrokerOptions {
	return {
		namespace: config.namespace,
		nodeID: config.nodeId,
		logger: { type: "Console", options: { level: config.logLevel, formatter: "short", colors: process.stdout.isTTY } },
		logLevel: config.logLevel,
		transporter: config.transporter,
		cacher: config.redisUrl ? new RedisCacher({ redis: config.redisUrl as unknown as object, prefix: `${config.redisPrefix}cache` }) : "Memory",
		serializer: "JSON",
		requestTimeout: 10 * 1000,
		retryPolicy: { enabled: false },
		maxCallLevel: 20,
		heartbeatInterval: 5,
		heartbeatTimeout: 15,
		contextParamsCloning: false,
		tracking: { enabled: true, shutdownTimeout: 10 * 1000 },
		disableBalancer: false,
		registry: { strategy: "RoundRobin", preferLocal: true },
		circuitBreaker: { enabled: false },
		bulkhead: { enabled: false },
		validator: new SafeValidator(),
		metrics: { enabled: false },
		tracing: { enabled: false },
		// Moleculer's Middleware type has no room for the `name` these middlewares carry.
		middlewares: [ConfigMiddleware(config), ChannelRetryMiddleware(), createChannelsMiddleware(config), FairBulkheadMiddleware()] as unknown as BrokerOptions["middlewares"],
		replCommands: null
	};
}

/**
 * The one way GoChat builds a broker (npm start, npm run dev and the tests): the options above,
 * the caller's overrides (hot reload, a test transporter), and the services SERVICES selects.
 */
export function createBroker(config: Config, overrides: Partial<BrokerOptions> = {}): ServiceBroker {
	const broker = new ServiceBroker({ ...createBrokerOptions(config), ...overrides });
	for (const file of serviceFiles(config.services)) broker.loadService(file);
	return broker;
}
