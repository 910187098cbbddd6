import { ConfigError, loadConfig } from "../../../lib/config";

const base = { DATABASE_URL: "sqlite::memory:" };

describe("loadConfig", () => {
	test("defaults run everything embedded on port 3000", () => {
		const config = loadConfig(base);
		expect(config).toMatchObject({
			port: 3000,
			services: ["gateway", "logic", "repo", "task"],
			messageMaxBytes: 16384,
			groupMaxMembers: 10000,
			// Unset: leased when Redis or etcd is configured, else 0.
			workerId: null
		});
		expect(config).toMatchObject({
			discoverer: null,
			metricsPort: null,
			tracing: null,
			logFormat: "text",
			logRequestIds: true,
			healthPort: null,
			shutdownTimeoutSeconds: 10
		});
		expect(config).toMatchObject({
			redisUrl: null,
			transporter: null,
			queueUrl: null,
			groupInlineFanout: 500,
			hotCacheSize: 300,
			namespace: "gochat"
		});
		expect(config.jwtSecretSource).toBe("generated");
		expect(config.jwtSecret.length).toBeGreaterThanOrEqual(32);
	});

	test("reads every variable it documents", () => {
		const config = loadConfig({
			...base,
			PORT: "8080",
			JWT_SECRET: "k".repeat(40),
			SERVICES: "gateway,repo/users",
			WORKER_ID: "12",
			MESSAGE_MAX_BYTES: "100",
			GROUP_MAX_MEMBERS: "50",
			LOG_LEVEL: "debug",
			MIGRATE_ON_START: "false",
			DISCOVERER: "etcd3://etcd-1:2379,etcd-2:2379",
			METRICS_PORT: "9100",
			TRACING: "console",
			LOG_FORMAT: "json",
			LOG_REQUEST_IDS: "false",
			HEALTH_PORT: "8081",
			SHUTDOWN_TIMEOUT: "25",
			QUEUE_URL: "kafka://kafka-1:9092,kafka-2:9092"
		});
		expect(config).toMatchObject({
			discoverer: "etcd3://etcd-1:2379,etcd-2:2379",
			metricsPort: 9100,
			tracing: "Console",
			logFormat: "json",
			logRequestIds: false,
			healthPort: 8081,
			shutdownTimeoutSeconds: 25,
			queueUrl: "kafka://kafka-1:9092,kafka-2:9092"
		});
		expect(config).toMatchObject({
			port: 8080,
			jwtSecret: "k".repeat(40),
			jwtSecretSource: "env",
			services: ["gateway", "repo/users"],
			workerId: 12,
			messageMaxBytes: 100,
			groupMaxMembers: 50,
			logLevel: "debug",
			migrateOnStart: false
		});
	});

	test("real servers: the queue follows REDIS_URL unless QUEUE_URL says otherwise", () => {
		const withRedis = loadConfig({
			...base,
			REDIS_URL: "redis://127.0.0.1:6379",
			TRANSPORTER: "nats://127.0.0.1:4222"
		});
		expect(withRedis).toMatchObject({
			redisUrl: "redis://127.0.0.1:6379",
			queueUrl: "redis://127.0.0.1:6379",
			transporter: "nats://127.0.0.1:4222"
		});
		expect(loadConfig({ ...base, REDIS_URL: "redis://r:6379", QUEUE_URL: "nats://n:4222" }).queueUrl).toBe(
			"nats://n:4222"
		);
	});

	test("the embedded hot cache holds 64 MiB unless HOT_CACHE_MAX_MB says otherwise", () => {
		expect(loadConfig(base).hotCacheMaxMb).toBe(64);
		expect(loadConfig({ ...base, HOT_CACHE_MAX_MB: "512" }).hotCacheMaxMb).toBe(512);
	});

	test("sends: 128 at once, 256 waiting, 5 s to be stored, unless configured", () => {
		expect(loadConfig(base)).toMatchObject({ sendConcurrency: 128, sendQueue: 256, sendTimeoutMs: 5000 });
		expect(loadConfig({ ...base, SEND_CONCURRENCY: "1", SEND_QUEUE: "0", SEND_TIMEOUT_MS: "250" })).toMatchObject({
			sendConcurrency: 1,
			sendQueue: 0,
			sendTimeoutMs: 250
		});
	});

	test.each([
		["SEND_CONCURRENCY", "0"],
		["SEND_QUEUE", "-1"],
		["SEND_TIMEOUT_MS", "50"],
		["SEND_TIMEOUT_MS", "5s"],
		["REDIS_URL", "http://x"],
		["TRANSPORTER", "kafka://x"],
		["QUEUE_URL", "amqp://x"],
		["QUEUE_URL", "not a url"],
		["GROUP_INLINE_FANOUT", "1"],
		["PRESENCE_TTL", "0"],
		["HOT_CACHE_SIZE", "-1"],
		["HOT_CACHE_MAX_MB", "0"],
		["HOT_CACHE_MAX_MB", "64MB"],
		["PORT", "http"],
		["PORT", "70000"],
		["WORKER_ID", "1024"],
		["JWT_SECRET", "short"],
		["DATABASE_URL", "postgres://x/y"],
		["DATABASE_URL", "mysql://host"],
		["SERVICES", "gateway,chat"],
		["LOG_LEVEL", "loud"],
		["MIGRATE_ON_START", "maybe"],
		["MESSAGE_MAX_BYTES", "0"],
		["BCRYPT_ROUNDS", "3"],
		["DISCOVERER", "etcd://x:2379"],
		["DISCOVERER", "etcd3://x"],
		["METRICS_PORT", "metrics"],
		["TRACING", "Prometheus"],
		["LOG_FORMAT", "xml"],
		["LOG_REQUEST_IDS", "sometimes"],
		["HEALTH_PORT", "-1"],
		["HEALTH_PORT", "3000"],
		["SHUTDOWN_TIMEOUT", "0"],
		["WORKER_LEASE_TTL", "1"],
		["QUEUE_URL", "kafka://a:9092,b"]
	])("an invalid %s (%p) stops the start with a message naming it", (name, value) => {
		expect(() => loadConfig({ ...base, [name]: value })).toThrow(ConfigError);
		expect(() => loadConfig({ ...base, [name]: value })).toThrow(new RegExp(`^${name}: `));
	});
});
