import crypto from "crypto";
import fs from "fs";
import os from "os";
import path from "path";
import type { Middleware } from "moleculer";
import { parseRate, Rate } from "./rate-limit";
import { MAX_WORKER_ID } from "./snowflake";

/** Every setting GoChat reads, typed. Defaults run everything embedded in one process. */
export interface Config {
	port: number;
	/** Address the gateway listens on; 0.0.0.0 (every interface) suits containers. */
	host: string;
	/** Proxies in front of the gateway whose X-Forwarded-For is trusted (0: use the peer address). */
	trustProxyHops: number;
	/** Milliseconds a client may take to send a request's headers, and the whole request. */
	httpHeadersTimeoutMs: number;
	httpRequestTimeoutMs: number;
	/** Deepest nesting of objects and arrays a request body or socket payload may have. */
	jsonMaxDepth: number;
	socketsPerUser: number;
	socketsPerAddress: number;
	nodeId: string;
	/** Moleculer namespace: nodes only see nodes of the same namespace; channels are prefixed with it. */
	namespace: string;
	services: string[];
	logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace";
	databaseUrl: string;
	migrateOnStart: boolean;
	jwtSecret: string;
	/** Where the secret came from, so the start can say when it was generated. */
	jwtSecretSource: "env" | "generated" | "file";
	accessTokenTtlSeconds: number;
	refreshTokenTtlSeconds: number;
	bcryptRounds: number;
	/** Threads that hash passwords, off the event loop, and hashes that may wait for one. */
	hashWorkers: number;
	hashQueue: number;
	/** Failed logins per (address, username) before each further try must wait, growing to the lockout. */
	loginMaxFailures: number;
	/** The longest such wait, and how long failures are remembered. */
	loginLockoutSeconds: number;
	/** Failed logins per address, whatever the usernames, before that address must wait. */
	loginAddressMaxFailures: number;
	/** Failed logins per username from all addresses: the ceiling against spread-out guessing. */
	loginUsernameMaxFailures: number;
	/** Login attempts per address; sign-ups (register and guest) per address. */
	loginRate: Rate | null;
	signupRate: Rate | null;
	/** Guests who never sent a message nor refreshed their session for this long are deleted. */
	guestIdleHours: number;
	/**
	 * Snowflake worker ID. null: lease a free one from Redis (REDIS_URL) or etcd (DISCOVERER) for as
	 * long as the process runs; with neither, 0 (one process).
	 */
	workerId: number | null;
	/** Seconds a leased worker ID lives without renewal; it is renewed every third of that. */
	workerLeaseTtlSeconds: number;
	messageMaxBytes: number;
	groupMaxMembers: number;
	/** Groups up to this size are pushed at once; larger ones (and the world) go through task. */
	groupInlineFanout: number;
	/** Sends one logic node works on at once (bulkhead concurrency). */
	sendConcurrency: number;
	/** Sends that may wait for a slot; past them a send is refused with OVERLOADED. */
	sendQueue: number;
	/** Milliseconds a send may take before its caller gets 503; it is then never stored. */
	sendTimeoutMs: number;
	/** Sends one user may have waiting for a slot; the slots go round the users in turn. */
	sendQueuePerUser: number;
	/** Send rates per socket and per user (per gateway node). */
	sendRateSocket: Rate | null;
	sendRateUser: Rate | null;
	/** Other socket events (typing, read, sync, unknown) per socket. */
	socketEventRate: Rate | null;
	/** Most conversations, and bytes of messages, in one sync reply; bytes also bound a history page. */
	syncMaxConversations: number;
	pageMaxBytes: number;
	/** Syncs one user may run at once. */
	syncPerUser: number;
	/** Redis for presence, sequences, de-duplication, hot cache and login limits; memory without it. */
	redisUrl: string | null;
	redisPrefix: string;
	/** Moleculer transporter between nodes (nats://…, redis://…); none runs everything in-process. */
	transporter: string | null;
	/**
	 * Durable queue for large fan-out: redis://… (Streams), nats://… (JetStream) or
	 * kafka://host:9092[,host:9092]; Fake in-process without it.
	 */
	queueUrl: string | null;
	/** Seconds before a queued job held by a crashed consumer is delivered again (Kafka: the session timeout, at least 6 s). */
	queueRedeliverySeconds: number;
	/** Seconds a gateway's presence entry lives without a heartbeat. */
	presenceTtlSeconds: number;
	/** Moleculer discoverer: etcd3://host:2379[,host:2379]; null uses the transporter's own discovery. */
	discoverer: string | null;
	/** Port of the Prometheus /metrics endpoint; null: metrics off. */
	metricsPort: number | null;
	/** Moleculer tracing exporter (Console, Jaeger, Zipkin, Datadog, Event); null: tracing off. */
	tracing: TracingExporter | null;
	/** Where the Jaeger, Zipkin or Datadog exporter sends spans (its collector's URL). */
	tracingEndpoint: string | null;
	/** text: one readable line per entry; json: one JSON object per line. */
	logFormat: "text" | "json";
	/**
	 * Every log line of a request carries its ID (AsyncLocalStorage). On Node 20 that costs about a
	 * tenth more CPU on the send path; off, only lines that name the request themselves carry it.
	 */
	logRequestIds: boolean;
	/** Port of /health and /ready for every role (a gateway also serves them on PORT); null: none. */
	healthPort: number | null;
	/** Seconds a stopping process may take to drain before it exits anyway. */
	shutdownTimeoutSeconds: number;
	/** Messages per conversation kept in the hot cache. */
	hotCacheSize: number;
	/** Approximate MiB the embedded store's hot cache may hold; idle conversations go first (Redis: its maxmemory). */
	hotCacheMaxMb: number;
}

export class ConfigError extends Error {
	constructor(
		readonly variable: string,
		message: string
	) {
		super(`${variable}: ${message}`);
		this.name = "ConfigError";
	}
}

type Env = Record<string, string | undefined>;

export const ROLES = ["gateway", "logic", "repo", "task"] as const;
const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace"] as const;
export const TRACING_EXPORTERS = ["Console", "Jaeger", "Zipkin", "Datadog", "Event"] as const;
export type TracingExporter = (typeof TRACING_EXPORTERS)[number];
const DEFAULT_DATABASE_URL = "sqlite:./data/gochat.sqlite";

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
	const raw = env[name];
	if (raw === undefined || raw.trim() === "") return fallback;
	const value = Number(raw);
	if (!Number.isInteger(value) || value < min || value > max) {
		throw new ConfigError(name, `must be an integer from ${min} to ${max}, got "${raw}"`);
	}
	return value;
}

/** An integer that may be left unset (null). */
function optionalInteger(env: Env, name: string, min: number, max: number): number | null {
	const raw = env[name];
	if (raw === undefined || raw.trim() === "") return null;
	return integer(env, name, 0, min, max);
}

function oneOf<T extends string>(env: Env, name: string, values: readonly T[]): T | null {
	const raw = env[name]?.trim();
	if (!raw) return null;
	const found = values.find(v => v.toLowerCase() === raw.toLowerCase());
	if (!found) throw new ConfigError(name, `must be one of ${values.join(", ")}, got "${raw}"`);
	return found;
}

function rate(env: Env, name: string, fallback: string): Rate | null {
	const raw = env[name]?.trim() || fallback;
	try {
		return parseRate(raw);
	} catch (err) {
		throw new ConfigError(name, (err as Error).message);
	}
}

function boolean(env: Env, name: string, fallback: boolean): boolean {
	const raw = env[name]?.trim().toLowerCase();
	if (raw === undefined || raw === "") return fallback;
	if (["1", "true", "yes"].includes(raw)) return true;
	if (["0", "false", "no"].includes(raw)) return false;
	throw new ConfigError(name, `must be true or false, got "${env[name]}"`);
}

function databaseUrl(env: Env): string {
	const url = env.DATABASE_URL?.trim() || DEFAULT_DATABASE_URL;
	if (url.startsWith("sqlite:")) {
		if (url === "sqlite:") throw new ConfigError("DATABASE_URL", "sqlite: needs a file path or :memory:");
		return url;
	}
	let parsed: URL;
	try {
		parsed = new URL(url);
	} catch {
		throw new ConfigError("DATABASE_URL", `is not a URL: "${url}"`);
	}
	if (!["mysql:", "mariadb:"].includes(parsed.protocol)) {
		throw new ConfigError("DATABASE_URL", `must start with sqlite: or mysql://, got "${parsed.protocol}"`);
	}
	if (parsed.pathname.length <= 1)
		throw new ConfigError("DATABASE_URL", "must name a database (mysql://host/dbname)");
	return url;
}

function serverUrl(env: Env, name: string, schemes: string[]): string | null {
	const raw = env[name]?.trim();
	if (!raw) return null;
	let parsed: URL;
	try {
		parsed = new URL(raw);
	} catch {
		throw new ConfigError(name, `is not a URL: "${raw}"`);
	}
	if (!schemes.includes(parsed.protocol.slice(0, -1))) {
		throw new ConfigError(
			name,
			`must start with ${schemes.map(s => `${s}://`).join(" or ")}, got "${parsed.protocol}"`
		);
	}
	return raw;
}

/** etcd3://host:2379, or several members: etcd3://a:2379,b:2379. */
function discoverer(env: Env): string | null {
	const raw = env.DISCOVERER?.trim();
	if (!raw) return null;
	const hosts = raw.startsWith("etcd3://") ? raw.slice("etcd3://".length).split(",") : [];
	if (hosts.length === 0 || hosts.some(host => !/^[\w.-]+:\d+$/.test(host))) {
		throw new ConfigError("DISCOVERER", `must be etcd3://host:port[,host:port], got "${raw}"`);
	}
	return raw;
}

/** The etcd members a DISCOVERER URL names, as the etcd3 client takes them. */
export function etcdHosts(discovererUrl: string): string[] {
	return discovererUrl
		.slice("etcd3://".length)
		.split(",")
		.map(host => `http://${host}`);
}

/** redis://, nats:// or kafka://host:port[,host:port] (Kafka names several brokers). */
function queueUrl(env: Env): string | null {
	const raw = env.QUEUE_URL?.trim();
	if (raw?.startsWith("kafka://")) {
		if (!/^kafka:\/\/[\w.-]+:\d+(,[\w.-]+:\d+)*$/.test(raw))
			throw new ConfigError("QUEUE_URL", `must be kafka://host:port[,host:port], got "${raw}"`);
		return raw;
	}
	return serverUrl(env, "QUEUE_URL", ["redis", "rediss", "nats"]);
}

function services(env: Env): string[] {
	const raw = env.SERVICES?.trim();
	if (!raw || raw === "all") return [...ROLES];
	const names = raw
		.split(",")
		.map(s => s.trim())
		.filter(Boolean);
	for (const name of names) {
		const role = name.split("/")[0];
		if (!(ROLES as readonly string[]).includes(role)) {
			throw new ConfigError(
				"SERVICES",
				`unknown role or service "${name}" (use ${ROLES.join(", ")} or role/service)`
			);
		}
	}
	return names;
}

/** Embedded mode keeps a generated secret next to the SQLite file so tokens survive a restart. */
function jwtSecret(env: Env, dbUrl: string): Pick<Config, "jwtSecret" | "jwtSecretSource"> {
	const given = env.JWT_SECRET;
	if (given !== undefined && given !== "") {
		if (given.length < 32) throw new ConfigError("JWT_SECRET", "must be at least 32 characters");
		return { jwtSecret: given, jwtSecretSource: "env" };
	}
	const file =
		dbUrl.startsWith("sqlite:") && !dbUrl.includes(":memory:")
			? path.join(path.dirname(path.resolve(dbUrl.slice("sqlite:".length))), ".jwt-secret")
			: undefined;
	if (file && fs.existsSync(file))
		return { jwtSecret: fs.readFileSync(file, "utf8").trim(), jwtSecretSource: "file" };
	const secret = crypto.randomBytes(48).toString("base64url");
	if (file) {
		fs.mkdirSync(path.dirname(file), { recursive: true });
		fs.writeFileSync(file, secret, { mode: 0o600 });
	}
	return { jwtSecret: secret, jwtSecretSource: "generated" };
}

export function loadConfig(env: Env = process.env): Config {
	const logLevel = (env.LOG_LEVEL?.trim() || "info") as Config["logLevel"];
	if (!LOG_LEVELS.includes(logLevel)) {
		throw new ConfigError("LOG_LEVEL", `must be one of ${LOG_LEVELS.join(", ")}, got "${env.LOG_LEVEL}"`);
	}
	const dbUrl = databaseUrl(env);
	const redisUrl = serverUrl(env, "REDIS_URL", ["redis", "rediss"]);
	const port = integer(env, "PORT", 3000, 0, 65535);
	const healthPort = optionalInteger(env, "HEALTH_PORT", 0, 65535);
	if (healthPort !== null && healthPort !== 0 && healthPort === port) {
		throw new ConfigError("HEALTH_PORT", `must differ from PORT (${port}): the gateway serves its API there`);
	}
	return Object.freeze({
		port,
		host: env.HOST?.trim() || "0.0.0.0",
		trustProxyHops: integer(env, "TRUST_PROXY_HOPS", 0, 0, 10),
		httpHeadersTimeoutMs: integer(env, "HTTP_HEADERS_TIMEOUT_MS", 10_000, 1000, 600_000),
		httpRequestTimeoutMs: integer(env, "HTTP_REQUEST_TIMEOUT_MS", 15_000, 1000, 600_000),
		jsonMaxDepth: integer(env, "JSON_MAX_DEPTH", 10, 2, 100),
		socketsPerUser: integer(env, "SOCKETS_PER_USER", 20, 1, 100_000),
		socketsPerAddress: integer(env, "SOCKETS_PER_ADDRESS", 500, 1, 1_000_000),
		nodeId: env.NODE_ID?.trim() || `${os.hostname()}-${process.pid}`,
		namespace: env.NAMESPACE?.trim() || "gochat",
		services: services(env),
		logLevel,
		databaseUrl: dbUrl,
		migrateOnStart: boolean(env, "MIGRATE_ON_START", true),
		...jwtSecret(env, dbUrl),
		accessTokenTtlSeconds: integer(env, "ACCESS_TOKEN_TTL", 900, 10, 86400),
		refreshTokenTtlSeconds: integer(env, "REFRESH_TOKEN_TTL", 30 * 86400, 60, 365 * 86400),
		bcryptRounds: integer(env, "BCRYPT_ROUNDS", 10, 4, 15),
		hashWorkers: integer(env, "HASH_WORKERS", Math.max(1, Math.min(4, os.cpus().length - 1)), 1, 64),
		hashQueue: integer(env, "HASH_QUEUE", 32, 0, 100_000),
		loginMaxFailures: integer(env, "LOGIN_MAX_FAILURES", 5, 1, 1000),
		loginLockoutSeconds: integer(env, "LOGIN_LOCKOUT_SECONDS", 900, 1, 86400),
		loginAddressMaxFailures: integer(env, "LOGIN_ADDRESS_MAX_FAILURES", 20, 1, 100_000),
		loginUsernameMaxFailures: integer(env, "LOGIN_USERNAME_MAX_FAILURES", 100, 1, 1_000_000),
		loginRate: rate(env, "LOGIN_RATE", "60/1m"),
		signupRate: rate(env, "SIGNUP_RATE", "60/10m"),
		guestIdleHours: integer(env, "GUEST_IDLE_HOURS", 24, 1, 24 * 365),
		workerId: optionalInteger(env, "WORKER_ID", 0, MAX_WORKER_ID),
		workerLeaseTtlSeconds: integer(env, "WORKER_LEASE_TTL", 15, 3, 3600),
		messageMaxBytes: integer(env, "MESSAGE_MAX_BYTES", 16384, 1, 1024 * 1024),
		groupMaxMembers: integer(env, "GROUP_MAX_MEMBERS", 10000, 2, 1000000),
		groupInlineFanout: integer(env, "GROUP_INLINE_FANOUT", 500, 2, 100000),
		sendConcurrency: integer(env, "SEND_CONCURRENCY", 128, 1, 100000),
		sendQueue: integer(env, "SEND_QUEUE", 256, 0, 1000000),
		sendTimeoutMs: integer(env, "SEND_TIMEOUT_MS", 5000, 100, 60000),
		sendQueuePerUser: integer(env, "SEND_QUEUE_PER_USER", 32, 0, 1_000_000),
		sendRateSocket: rate(env, "SEND_RATE_SOCKET", "20/1s"),
		sendRateUser: rate(env, "SEND_RATE_USER", "40/1s"),
		socketEventRate: rate(env, "SOCKET_EVENT_RATE", "60/1s"),
		syncMaxConversations: integer(env, "SYNC_MAX_CONVERSATIONS", 50, 1, 10_000),
		pageMaxBytes: integer(env, "PAGE_MAX_BYTES", 1024 * 1024, 64 * 1024, 64 * 1024 * 1024),
		syncPerUser: integer(env, "SYNC_PER_USER", 2, 1, 100),
		redisUrl,
		redisPrefix: env.REDIS_PREFIX?.trim() || "gochat:",
		transporter: serverUrl(env, "TRANSPORTER", ["nats", "redis", "rediss"]),
		queueUrl: queueUrl(env) ?? redisUrl,
		queueRedeliverySeconds: integer(env, "QUEUE_REDELIVERY_SECONDS", 30, 1, 86400),
		presenceTtlSeconds: integer(env, "PRESENCE_TTL", 60, 3, 3600),
		hotCacheSize: integer(env, "HOT_CACHE_SIZE", 300, 0, 10000),
		hotCacheMaxMb: integer(env, "HOT_CACHE_MAX_MB", 64, 1, 1024 * 1024),
		discoverer: discoverer(env),
		metricsPort: optionalInteger(env, "METRICS_PORT", 0, 65535),
		tracing: oneOf(env, "TRACING", TRACING_EXPORTERS),
		tracingEndpoint: serverUrl(env, "TRACING_ENDPOINT", ["http", "https"]),
		logFormat: oneOf(env, "LOG_FORMAT", ["text", "json"] as const) ?? "text",
		logRequestIds: boolean(env, "LOG_REQUEST_IDS", true),
		healthPort,
		shutdownTimeoutSeconds: integer(env, "SHUTDOWN_TIMEOUT", 10, 1, 600)
	});
}

/** Each broker's configuration, set by ConfigMiddleware when the broker is built. */
const brokerConfigs = new WeakMap<object, Config>();

/**
 * Hands a broker its frozen configuration: services read it with brokerConfig(this.broker) (or
 * `this.config` from the config mixin), so brokers with different settings share one process.
 */
export function ConfigMiddleware(config: Config): Middleware {
	const middleware = {
		name: "Config",
		created(broker: object) {
			brokerConfigs.set(broker, config);
		}
	};
	// Moleculer's Middleware type has no room for the `name` every middleware may carry.
	return middleware as unknown as Middleware;
}

/** The configuration the broker was built with (see createBroker in moleculer.config.ts). */
export function brokerConfig(broker: object): Config {
	const config = brokerConfigs.get(broker);
	if (!config) throw new Error("This broker has no GoChat configuration: build it with createBroker()");
	return config;
}
