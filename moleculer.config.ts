import type { BrokerOptions } from "moleculer";
import { Config, getConfig } from "./lib/config";

/**
 * Broker options, every one named. The embedded default runs all services in one process with
 * no transporter and an in-memory cacher.
 */
export function createBrokerOptions(config: Config): BrokerOptions {
	return {
		namespace: "gochat",
		nodeID: config.nodeId,
		logger: { type: "Console", options: { level: config.logLevel, formatter: "short", colors: process.stdout.isTTY } },
		logLevel: config.logLevel,
		transporter: null,
		cacher: "Memory",
		serializer: "JSON",
		requestTimeout: 10 * 1000,
		retryPolicy: { enabled: false },
		maxCallLevel: 20,
		heartbeatInterval: 10,
		heartbeatTimeout: 30,
		contextParamsCloning: false,
		tracking: { enabled: true, shutdownTimeout: 10 * 1000 },
		disableBalancer: false,
		registry: { strategy: "RoundRobin", preferLocal: true },
		circuitBreaker: { enabled: false },
		bulkhead: { enabled: false },
		validator: true,
		metrics: { enabled: false },
		tracing: { enabled: false },
		replCommands: null
	};
}

export default createBrokerOptions(getConfig());
