import crypto from "crypto";
import fs from "fs";
import os from "os";
import path from "path";
import { Etcd3 } from "etcd3";
import Redis from "ioredis";
import { ServiceBroker } from "moleculer";
import { createConnection } from "mysql2/promise";
import { Config, etcdHosts, loadConfig } from "../../lib/config";
import { createBroker } from "../../moleculer.config";

/**
 * Starts GoChat services on a real, free port, isolated from every other run:
 * - a database of its own: a temporary SQLite file, or, when TEST_DATABASE_URL names a
 *   MySQL/MariaDB server (mysql://root@127.0.0.1:3306), a fresh database;
 * - with TEST_REDIS_URL, Redis for state, cache and queues under a key prefix of its own;
 * - with TRANSPORTER (e.g. nats://127.0.0.1:4222), that transporter, in a namespace of its own.
 * stop() removes all of it again. `join` starts another node of the same cluster.
 */
export interface RunningGoChat {
	baseUrl: string;
	broker: ServiceBroker;
	config: Config;
	stop(): Promise<void>;
}

export interface StartOptions {
	/** The first node of a cluster: without TRANSPORTER, nodes of this process share an in-memory one. */
	cluster?: boolean;
	/** Another node of the same cluster: shares its database, Redis prefix and namespace. */
	join?: RunningGoChat;
}

export interface TestDatabase {
	url: string;
	drop(): Promise<void>;
}

/** A database of its own on the MySQL/MariaDB server `server` names (mysql://root@127.0.0.1:3306). */
export async function mariadbDatabase(server: string): Promise<TestDatabase> {
	const name = `gochat_test_${Date.now()}_${crypto.randomBytes(3).toString("hex")}`;
	const admin = new URL(server.replace(/^mariadb:/, "mysql:"));
	admin.pathname = "";
	const run = async (sql: string) => {
		const connection = await createConnection(admin.toString());
		try {
			await connection.query(sql);
		} finally {
			await connection.end();
		}
	};
	await run(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
	const url = new URL(admin.toString());
	url.pathname = `/${name}`;
	return { url: url.toString(), drop: () => run(`DROP DATABASE IF EXISTS \`${name}\``) };
}

/** A temporary SQLite file, removed with its folder. */
export async function sqliteDatabase(): Promise<TestDatabase> {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gochat-test-"));
	return {
		url: `sqlite:${path.join(dir, "gochat.sqlite")}`,
		drop: async () => fs.rmSync(dir, { recursive: true, force: true })
	};
}

/** MariaDB when TEST_DATABASE_URL names a server, else SQLite. */
function freshDatabase(): Promise<TestDatabase> {
	const server = process.env.TEST_DATABASE_URL;
	return server && /^(mysql|mariadb):/.test(server) ? mariadbDatabase(server) : sqliteDatabase();
}

/** Deletes every Redis key a run made: its state prefix and its namespace's streams. */
export async function dropRedisKeys(url: string, patterns: string[]): Promise<void> {
	const redis = new Redis(url);
	try {
		for (const pattern of patterns) {
			let cursor = "0";
			do {
				const [next, keys] = await redis.scan(cursor, "MATCH", pattern, "COUNT", 1000);
				if (keys.length > 0) await redis.del(...keys);
				cursor = next;
			} while (cursor !== "0");
		}
	} finally {
		await redis.quit().catch(() => redis.disconnect());
	}
}

/** Deletes a run's worker-ID keys in etcd (the minting bounds have no TTL). */
export async function dropEtcdKeys(discoverer: string, namespace: string): Promise<void> {
	const etcd = new Etcd3({ hosts: etcdHosts(discoverer) });
	try {
		await etcd.delete().prefix(`gochat/${namespace}/`);
	} finally {
		etcd.close();
	}
}

export async function startGoChat(
	env: Record<string, string> = {},
	options: StartOptions = {}
): Promise<RunningGoChat> {
	const joined = options.join?.config;
	const database = joined ? { url: joined.databaseUrl, drop: async () => undefined } : await freshDatabase();
	const runId = crypto.randomBytes(4).toString("hex");
	const redisUrl = process.env.TEST_REDIS_URL;
	const config = loadConfig({
		PORT: "0",
		LOG_LEVEL: "warn",
		BCRYPT_ROUNDS: "4",
		// Suites create many users from one address and send bursts; the abuse suites set these limits themselves.
		SIGNUP_RATE: "off",
		LOGIN_RATE: "off",
		SEND_RATE_SOCKET: "off",
		SEND_RATE_USER: "off",
		JWT_SECRET: joined?.jwtSecret ?? crypto.randomBytes(32).toString("hex"),
		NODE_ID: `test-${process.pid}-${runId}`,
		NAMESPACE: joined?.namespace ?? `test-${runId}`,
		...(process.env.TRANSPORTER ? { TRANSPORTER: process.env.TRANSPORTER } : {}),
		...(process.env.DISCOVERER ? { DISCOVERER: process.env.DISCOVERER } : {}),
		...(redisUrl ? { REDIS_URL: redisUrl, REDIS_PREFIX: joined?.redisPrefix ?? `gochat-test-${runId}:` } : {}),
		...env,
		DATABASE_URL: database.url
	});
	// Two brokers in one process need a transporter; without TRANSPORTER they share Moleculer's in-memory one.
	const transporter = config.transporter ?? (options.cluster || options.join ? "Fake" : null);
	const broker = createBroker(config, { transporter, logger: false });
	const usedRedis = config.redisUrl ?? (config.queueUrl?.startsWith("redis") ? config.queueUrl : null);
	const cleanup = async () => {
		await database.drop();
		if (config.discoverer && !joined) await dropEtcdKeys(config.discoverer, config.namespace);
		if (usedRedis && !joined) {
			await dropRedisKeys(
				usedRedis,
				config.redisUrl ? [`${config.redisPrefix}*`, `${config.namespace}.*`] : [`${config.namespace}.*`]
			);
		}
	};
	try {
		await broker.start();
	} catch (err) {
		await broker.stop().catch(() => undefined);
		await cleanup();
		throw err;
	}
	const api = broker.getLocalService("api") as unknown as { server: import("http").Server } | undefined;
	const address = api?.server.address();
	const port = address && typeof address === "object" ? address.port : 0;
	return {
		baseUrl: `http://127.0.0.1:${port}`,
		broker,
		config,
		async stop() {
			// A test may have stopped the broker itself (a shutdown under test): its data goes all the same.
			try {
				await broker.stop();
			} finally {
				await cleanup();
			}
		}
	};
}

/** Resolves once `broker` sees service `name` on node `nodeID` (waits for registry changes, not time). */
export function waitForServiceOn(broker: ServiceBroker, name: string, nodeID: string): Promise<void> {
	const present = () =>
		(
			broker.registry.getServiceList({ onlyAvailable: true }) as unknown as Array<{
				name: string;
				nodeID: string;
			}>
		).some(s => s.name === name && s.nodeID === nodeID);
	return new Promise(resolve => {
		if (present()) return resolve();
		const onChange = () => {
			if (!present()) return;
			broker.localBus.off("$services.changed", onChange);
			resolve();
		};
		broker.localBus.on("$services.changed", onChange);
	});
}
