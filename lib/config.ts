import crypto from "crypto";
import fs from "fs";
import os from "os";
import path from "path";
import { MAX_WORKER_ID } from "./snowflake";

/** Every setting GoChat reads, typed. Defaults run everything embedded in one process. */
export interface Config {
	port: number;
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
	loginMaxFailures: number;
	loginLockoutSeconds: number;
	workerId: number;
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
	/** Redis for presence, sequences, de-duplication, hot cache and login limits; memory without it. */
	redisUrl: string | null;
	redisPrefix: string;
	/** Moleculer transporter between nodes (nats://…, redis://…); none runs everything in-process. */
	transporter: string | null;
	/** Durable queue for large fan-out: redis://… (Streams) or nats://… (JetStream); Fake in-process without it. */
	queueUrl: string | null;
	/** Seconds before a queued job held by a crashed consumer is delivered again. */
	queueRedeliverySeconds: number;
	/** Seconds a gateway's presence entry lives without a heartbeat. */
	presenceTtlSeconds: number;
	/** Messages per conversation kept in the hot cache. */
	hotCacheSize: number;
	/** Approximate MiB the embedded store's hot cache may hold; idle conversations go first (Redis: its maxmemory). */
	hotCacheMaxMb: number;
}

export class ConfigError extends Error {
	constructor(readonly variable: string, message: string) {
		super(`${variable}: ${message}`);
		this.name = "ConfigError";
	}
}

type Env = Record<string, string | undefined>;

export const ROLES = ["gateway", "logic", "repo", "task"] as const;
const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace"] as const;
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
	if (parsed.pathname.length <= 1) throw new ConfigError("DATABASE_URL", "must name a database (mysql://host/dbname)");
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
		throw new ConfigError(name, `must start with ${schemes.map(s => `${s}://`).join(" or ")}, got "${parsed.protocol}"`);
	}
	return raw;
}

function services(env: Env): string[] {
	const raw = env.SERVICES?.trim();
	if (!raw || raw === "all") return [...ROLES];
	const names = raw.split(",").map(s => s.trim()).filter(Boolean);
	for (const name of names) {
		const role = name.split("/")[0];
		if (!(ROLES as readonly string[]).includes(role)) {
			throw new ConfigError("SERVICES", `unknown role or service "${name}" (use ${ROLES.join(", ")} or role/service)`);
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
	const file = dbUrl.startsWith("sqlite:") && !dbUrl.includes(":memory:")
		? path.join(path.dirname(path.resolve(dbUrl.slice("sqlite:".length))), ".jwt-secret")
		: undefined;
	if (file && fs.existsSync(file)) return { jwtSecret: fs.readFileSync(file, "utf8").trim(), jwtSecretSource: "file" };
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
	return Object.freeze({
		port: integer(env, "PORT", 3000, 0, 65535),
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
		loginMaxFailures: integer(env, "LOGIN_MAX_FAILURES", 5, 1, 1000),
		loginLockoutSeconds: integer(env, "LOGIN_LOCKOUT_SECONDS", 900, 1, 86400),
		workerId: integer(env, "WORKER_ID", 0, 0, MAX_WORKER_ID),
		messageMaxBytes: integer(env, "MESSAGE_MAX_BYTES", 16384, 1, 1024 * 1024),
		groupMaxMembers: integer(env, "GROUP_MAX_MEMBERS", 10000, 2, 1000000),
		groupInlineFanout: integer(env, "GROUP_INLINE_FANOUT", 500, 2, 100000),
		sendConcurrency: integer(env, "SEND_CONCURRENCY", 128, 1, 100000),
		sendQueue: integer(env, "SEND_QUEUE", 256, 0, 1000000),
		sendTimeoutMs: integer(env, "SEND_TIMEOUT_MS", 5000, 100, 60000),
		redisUrl,
		redisPrefix: env.REDIS_PREFIX?.trim() || "gochat:",
		transporter: serverUrl(env, "TRANSPORTER", ["nats", "redis", "rediss"]),
		queueUrl: serverUrl(env, "QUEUE_URL", ["redis", "rediss", "nats"]) ?? redisUrl,
		queueRedeliverySeconds: integer(env, "QUEUE_REDELIVERY_SECONDS", 30, 1, 86400),
		presenceTtlSeconds: integer(env, "PRESENCE_TTL", 60, 3, 3600),
		hotCacheSize: integer(env, "HOT_CACHE_SIZE", 300, 0, 10000),
		hotCacheMaxMb: integer(env, "HOT_CACHE_MAX_MB", 64, 1, 1024 * 1024)
	});
}

let current: Config | undefined;

/** The process-wide configuration, read from the environment on first use. */
export function getConfig(): Config {
	if (!current) current = loadConfig();
	return current;
}

/** Replaces the process-wide configuration (tests and tools that build their own). */
export function setConfig(config: Config): Config {
	current = config;
	return config;
}
