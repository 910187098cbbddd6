import { spawnSync } from "child_process";
import fs from "fs";

/**
 * Suites that need a real server run when it is there and are skipped, saying why, when it is
 * not, so `npm test` passes on a machine with no server at all. REQUIRE_SERVERS turns a missing
 * server into a failure: "1" (or "all") for every kind, or a list such as "private-redis,redis".
 * .ci/run sets it, since it starts the servers itself.
 */
export type ServerKind =
	"redis" | "private-redis" | "mariadb" | "nats" | "etcd" | "kafka" | "docker-compose" | "chromium";

/**
 * Debian's Chromium (package chromium; CHROMIUM_PATH may point elsewhere), the only browser the
 * browser tests drive: they never download one.
 */
const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** Kinds that REQUIRE_SERVERS=1 leaves out: no Kafka broker can be installed on our CI machines. */
const ONLY_WHEN_NAMED: ServerKind[] = ["kafka"];

export interface Server {
	/** The server's URL, or for private-redis, docker-compose and chromium the binary. */
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

/** The etcd the lease and discovery tests use: TEST_ETCD_URL, or the one DISCOVERER names. */
export function testEtcdUrl(): string | null {
	const discoverer = process.env.DISCOVERER;
	const fromDiscoverer = discoverer?.startsWith("etcd3://")
		? `http://${discoverer.slice("etcd3://".length).split(",")[0]}`
		: null;
	return process.env.TEST_ETCD_URL ?? fromDiscoverer;
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
		case "etcd": {
			const url = testEtcdUrl();
			if (!url) return { server: null, missing: "no etcd URL (set TEST_ETCD_URL=http://127.0.0.1:2379)" };
			return reachable(url, 2379)
				? { server: { url }, missing: "" }
				: { server: null, missing: `no etcd at ${new URL(url).host}` };
		}
		case "docker-compose": {
			// Not a server: the binary that validates docker-compose.yml (`docker-compose config` needs no engine).
			const found = spawnSync("docker-compose", ["version"]).status === 0;
			return found
				? { server: { url: "docker-compose" }, missing: "" }
				: {
						server: null,
						missing:
							"no docker-compose binary to validate the compose files (apt-get install docker-compose)"
					};
		}
		case "chromium":
			return fs.existsSync(CHROMIUM_PATH)
				? { server: { url: CHROMIUM_PATH }, missing: "" }
				: {
						server: null,
						missing: `no Chromium at ${CHROMIUM_PATH} (install chromium: apt-get install chromium)`
					};
		case "kafka": {
			// A broker list, host:9092[,host:9092]; the probe tries the first.
			const brokers = process.env.TEST_KAFKA_BROKERS;
			if (!brokers) return { server: null, missing: "no Kafka broker (set TEST_KAFKA_BROKERS=host:9092)" };
			const url = `kafka://${brokers.split(",")[0]}`;
			return reachable(url, 9092)
				? { server: { url: brokers }, missing: "" }
				: { server: null, missing: `no Kafka at ${brokers}` };
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
	if (wanted.includes(kind)) return true;
	return (wanted.includes("1") || wanted.includes("all")) && !ONLY_WHEN_NAMED.includes(kind);
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
