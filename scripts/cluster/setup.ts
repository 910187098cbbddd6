import { spawn } from "child_process";
import crypto from "crypto";
import fs from "fs";
import path from "path";
import { createConnection } from "mysql2/promise";
import { MIGRATE_SCRIPT, ROOT, SECRET_FILE } from "./paths";

/** JWT_SECRET from the environment, else one generated once and kept in data/ for later runs. */
export function sharedJwtSecret(env: NodeJS.ProcessEnv): string {
	if (env.JWT_SECRET) return env.JWT_SECRET;
	if (fs.existsSync(SECRET_FILE)) return fs.readFileSync(SECRET_FILE, "utf8").trim();
	const secret = crypto.randomBytes(48).toString("base64url");
	fs.mkdirSync(path.dirname(SECRET_FILE), { recursive: true });
	fs.writeFileSync(SECRET_FILE, secret, { mode: 0o600 });
	return secret;
}

/** Creates the MySQL/MariaDB database when it does not exist (utf8mb4, binary collation as GoChat expects). */
export async function ensureDatabase(databaseUrl: string): Promise<void> {
	if (!/^(mysql|mariadb):/.test(databaseUrl)) return;
	const url = new URL(databaseUrl.replace(/^mariadb:/, "mysql:"));
	const name = decodeURIComponent(url.pathname.slice(1));
	url.pathname = "";
	const connection = await createConnection(url.toString());
	try {
		await connection.query(
			`CREATE DATABASE IF NOT EXISTS \`${name.replace(/`/g, "``")}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`
		);
	} finally {
		await connection.end();
	}
}

/**
 * Runs the migrations once, before any process starts (they start with MIGRATE_ON_START=false, so
 * five never race); resolves with the script's exit code and output.
 */
export function migrate(env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
	return new Promise(resolve => {
		const child = spawn(process.execPath, [MIGRATE_SCRIPT], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
		let output = "";
		child.stdout.on("data", chunk => (output += chunk));
		child.stderr.on("data", chunk => (output += chunk));
		child.once("exit", code => resolve({ code, output }));
	});
}
