import crypto from "crypto";
import fs from "fs";
import os from "os";
import path from "path";
import { ServiceBroker } from "moleculer";
import { createConnection } from "mysql2/promise";
import { Config, loadConfig, setConfig } from "../../lib/config";
import { serviceFiles } from "../../lib/service-files";
import { createBrokerOptions } from "../../moleculer.config";

/**
 * Starts every GoChat service on a real, free port against a database of its own:
 * a temporary SQLite file, or, when TEST_DATABASE_URL points at a MySQL/MariaDB server
 * (mysql://root@127.0.0.1:3306), a fresh database that stop() drops again.
 */
export interface RunningGoChat {
	baseUrl: string;
	broker: ServiceBroker;
	config: Config;
	stop(): Promise<void>;
}

async function freshDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
	const server = process.env.TEST_DATABASE_URL;
	if (server && /^(mysql|mariadb):/.test(server)) {
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
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gochat-test-"));
	return { url: `sqlite:${path.join(dir, "gochat.sqlite")}`, drop: async () => fs.rmSync(dir, { recursive: true, force: true }) };
}

export async function startGoChat(env: Record<string, string> = {}): Promise<RunningGoChat> {
	const database = await freshDatabase();
	const config = setConfig(loadConfig({
		PORT: "0",
		LOG_LEVEL: "warn",
		BCRYPT_ROUNDS: "4",
		JWT_SECRET: crypto.randomBytes(32).toString("hex"),
		NODE_ID: `test-${process.pid}-${crypto.randomBytes(2).toString("hex")}`,
		...env,
		DATABASE_URL: database.url
	}));
	const broker = new ServiceBroker({ ...createBrokerOptions(config), logger: false });
	for (const file of serviceFiles(config.services)) broker.loadService(file);
	try {
		await broker.start();
	} catch (err) {
		await broker.stop().catch(() => undefined);
		await database.drop();
		throw err;
	}
	const api = broker.getLocalService("api") as unknown as { server: import("http").Server };
	const address = api.server.address();
	if (!address || typeof address === "string") throw new Error("the API server is not listening");
	return {
		baseUrl: `http://127.0.0.1:${address.port}`,
		broker,
		config,
		async stop() {
			await broker.stop();
			await database.drop();
		}
	};
}
