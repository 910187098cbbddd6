import {
	BrokerCircuitBreakerOptions,
	BrokerOptions,
	BulkheadOptions,
	RetryPolicyOptions,
	ServiceBroker
} from "moleculer";
import { RedisCacher } from "./lib/cache/redis-cacher";
import { createChannelsMiddleware } from "./lib/channels";
import { Config, ConfigMiddleware, etcdHosts } from "./lib/config";
import { SettledEtcd3Discoverer } from "./lib/etcd-discoverer";
import { isServerFailure, isTransientFailure } from "./lib/errors";
import { HealthMiddleware } from "./lib/health/health-server";
import { replCommands } from "./lib/repl";
import { CIRCUIT_HALF_OPEN_MS, REQUEST_TIMEOUT_MS } from "./lib/resilience";
import { serviceFiles } from "./lib/service-files";
import {
	ChannelTracingMiddleware,
	loggerOptions,
	metricsOptions,
	MetricsMiddleware,
	tracingOptions
} from "./lib/telemetry";
import { SafeValidator } from "./lib/validator";
import { WorkerIdLeaseMiddleware } from "./lib/worker-lease";
import { ChannelRetryMiddleware } from "./middlewares/channel-retry.middleware";
import { FairBulkheadMiddleware } from "./middlewares/fair-bulkhead.middleware";
import { RequestContextMiddleware } from "./middlewares/request-context.middleware";

/**
 * Per endpoint (one action on one node), counted on the calling node: once half of at least 20
 * calls in a window failed on the server side, the endpoint leaves rotation (callers get
 * ServiceNotAvailableError, a 503 with retryAfter, at once instead of waiting for timeouts) until a
 * trial call after CIRCUIT_HALF_OPEN_MS succeeds. The window's timer runs only because this
 * broker-level block is enabled; an action cannot set its own windowTime.
 */
const CIRCUIT_BREAKER: BrokerCircuitBreakerOptions = {
	enabled: true,
	threshold: 0.5,
	minRequestCount: 20,
	windowTime: 30,
	halfOpenTime: CIRCUIT_HALF_OPEN_MS,
	check: isServerFailure
};

/**
 * Idempotent reads get two more tries, 100 then 200 ms later, on a transient failure only; it runs
 * on the calling node. Every write declares NO_RETRY (lib/resilience.ts) in its schema.
 */
const RETRY_POLICY: RetryPolicyOptions = {
	enabled: true,
	retries: 2,
	delay: 100,
	maxDelay: 1000,
	factor: 2,
	check: isTransientFailure
};

/**
 * Calls of one action running at once on one node, and calls waiting for a slot; past the queue
 * the caller gets QueueIsFullError (503 OVERLOADED) at once. 128 matches the send path's default
 * admission (SEND_CONCURRENCY), so no hop behind messages.send is narrower than its front door.
 * It also bounds each event handler, where a full queue drops the event.
 */
const BULKHEAD: BulkheadOptions = {
	enabled: true,
	concurrency: 128,
	maxQueueSize: 1024
};

/**
 * Which nodes exist: with DISCOVERER, etcd holds each node's heartbeat and service list (nodes
 * still talk over the transporter); without it, the transporter's own heartbeats tell (Local).
 */
function discovererOptions(config: Pick<Config, "discoverer">) {
	if (!config.discoverer) return "Local";
	return new SettledEtcd3Discoverer({ etcd: { hosts: etcdHosts(config.discoverer) } });
}

/**
 * Broker options, every one named. The embedded default runs all services in one process with
 * no transporter, an in-memory cacher and in-process channels; the environment switches each
 * part to its server (TRANSPORTER, REDIS_URL, QUEUE_URL).
 */
export function createBrokerOptions(config: Config): BrokerOptions {
	return {
		namespace: config.namespace,
		nodeID: config.nodeId,
		logger: loggerOptions(config),
		logLevel: config.logLevel,
		transporter: config.transporter,
		cacher: config.redisUrl
			? new RedisCacher({ redis: config.redisUrl as unknown as object, prefix: `${config.redisPrefix}cache` })
			: "Memory",
		serializer: "JSON",
		requestTimeout: REQUEST_TIMEOUT_MS,
		retryPolicy: RETRY_POLICY,
		maxCallLevel: 20,
		heartbeatInterval: 5,
		heartbeatTimeout: 15,
		contextParamsCloning: false,
		// Moleculer waits for the broker's calls and then each service's in turn: leave room under the hard deadline.
		tracking: { enabled: true, shutdownTimeout: Math.max(1000, config.shutdownTimeoutSeconds * 1000 - 2000) },
		disableBalancer: false,
		registry: { strategy: "RoundRobin", preferLocal: true, discoverer: discovererOptions(config) },
		circuitBreaker: CIRCUIT_BREAKER,
		bulkhead: BULKHEAD,
		validator: new SafeValidator(),
		metrics: metricsOptions(config),
		tracing: tracingOptions(config),
		// Moleculer's Middleware type has no room for the `name` these middlewares carry.
		middlewares: [
			ConfigMiddleware(config),
			// Early, so the probes answer (alive, not ready) while the rest starts.
			HealthMiddleware(config),
			WorkerIdLeaseMiddleware(),
			MetricsMiddleware(),
			ChannelRetryMiddleware(),
			createChannelsMiddleware(config),
			FairBulkheadMiddleware(),
			// Last, so outermost: a queued job's span covers its retries, and the request ID covers both.
			ChannelTracingMiddleware(),
			RequestContextMiddleware(config.logRequestIds)
		] as unknown as BrokerOptions["middlewares"],
		replCommands
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
