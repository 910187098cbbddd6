import { spawnSync } from "child_process";

/**
 * Suites that need a real server run when it is there and are skipped, saying why, when it is
 * not, so `npm test` passes on a machine with no server at all. REQUIRE_SERVERS turns a missing
 * server into a failure: "1" (or "all") for every kind, or a list such as "private-redis,redis".
 * .ci/run sets it, since it starts the servers itself.
 */
export type ServerKind = "redis" | "private-redis" | "mariadb" | "nats";

export interface Server {
	/** The server's URL, or for private-redis the redis-server binary. */
	url: string;
}

type Probe = { server: Server | null; missing: string };

const PROBE_TIMEOUT_MS = 1500;
const probes = new Map<ServerKind, Probe>();

/** The shared Redis the state-store contract and the Streams tests use. */
export function testRedisUrl(): string {
	return process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
}

function natsUrl(): string | null {
	const transporter = process.env.TRANSPORTER;
	return process.env.TEST_NATS_URL ?? (transporter?.startsWith("nats:") ? transporter : null);
}

/**
 * Connects to host:port in a child process, synchronously: describe() blocks register their
 * tests synchronously, so whether to skip must be known before the suite is declared.
 */
function reachable(url: string, defaultPort: number): boolean {
	const { hostname, port } = new URL(url);
	const script = `const s = require("net").connect(${Number(port) || defaultPort}, ${JSON.stringify(hostname)});
		s.setTimeout(${PROBE_TIMEOUT_MS}, () => process.exit(1));
		s.on("connect", () => process.exit(0));
		s.on("error", () => process.exit(1));`;
	return spawnSync(process.execPath, ["-e", script], { timeout: PROBE_TIMEOUT_MS + 1000 }).status === 0;
}

function probe(kind: ServerKind): Probe {
	switch (kind) {
		case "redis": {
			const url = testRedisUrl();
			return reachable(url, 6379)
				? { server: { url }, missing: "" }
				: { server: null, missing: `no Redis at ${new URL(url).host} (set TEST_REDIS_URL)` };
		}
		case "private-redis": {
			const found = spawnSync("redis-server", ["--version"]).status === 0;
			return found
				? { server: { url: "redis-server" }, missing: "" }
				: {
						server: null,
						missing:
							"no redis-server binary to start a private, killable Redis (apt-get install redis-server)"
					};
		}
		case "mariadb": {
			const url = process.env.TEST_DATABASE_URL;
			if (!url || !/^(mysql|mariadb):/.test(url))
				return { server: null, missing: "no MariaDB (set TEST_DATABASE_URL=mysql://…)" };
			return reachable(url, 3306)
				? { server: { url }, missing: "" }
				: { server: null, missing: `no MariaDB at ${new URL(url).host} (TEST_DATABASE_URL)` };
		}
		case "nats": {
			const url = natsUrl();
			if (!url) return { server: null, missing: "no NATS URL (set TEST_NATS_URL or TRANSPORTER=nats://…)" };
			return reachable(url, 4222)
				? { server: { url }, missing: "" }
				: { server: null, missing: `no NATS at ${new URL(url).host}` };
		}
	}
}

/** The server of that kind when it is reachable (probed once per test file), else null. */
export function server(kind: ServerKind): Server | null {
	let known = probes.get(kind);
	if (!known) {
		known = probe(kind);
		probes.set(kind, known);
	}
	return known.server;
}

function required(kind: ServerKind): boolean {
	const wanted = (process.env.REQUIRE_SERVERS ?? "").split(",").map(k => k.trim());
	return wanted.includes("1") || wanted.includes("all") || wanted.includes(kind);
}

/**
 * describe() for a suite that needs a server: declared as usual when the server is reachable,
 * skipped with a printed reason when not, or failed when REQUIRE_SERVERS requires that kind.
 */
export function serverSuite(kind: ServerKind, title: string, suite: (server: Server) => void): void {
	const found = server(kind);
	if (found) {
		describe(title, () => suite(found));
		return;
	}
	const reason = probes.get(kind)?.missing ?? "";
	if (required(kind)) {
		describe(title, () => {
			test(`needs ${kind}`, () => {
				throw new Error(`REQUIRE_SERVERS: ${reason}`);
			});
		});
		return;
	}
	console.warn(`SKIPPED ${title}: ${reason}`);
	describe.skip(title, () => suite({ url: "" }));
}
