import { Cluster } from "./cluster";
import { healthPorts } from "./members";
import { parseClusterArgs, USAGE, UsageError } from "./options";
import { unreachableServers } from "./servers";
import { ensureDatabase, migrate, sharedJwtSecret } from "./setup";

/**
 * `npm run cluster`: GoChat as a cluster on this machine's servers. Two gateways, and logic, repo
 * and task each in a process of its own (`node dist/server.js` with SERVICES), over NATS with etcd
 * discovery by default. Checks the servers first, migrates once, prints one status line per
 * process, and on Ctrl-C stops them all (docs/cluster.md).
 */
async function main(argv: string[]): Promise<number> {
	const options = parseClusterArgs(argv);
	if (options.help) {
		console.log(USAGE);
		return 0;
	}
	const missing = await unreachableServers(options);
	if (missing.length > 0) {
		console.error("GoChat cluster cannot start: these servers are not reachable:");
		for (const need of missing) {
			console.error(
				`  ${need.name} at ${need.host}:${need.port} (${need.setting})\n    start one: ${need.howToStart}`
			);
		}
		return 1;
	}

	const env: NodeJS.ProcessEnv = {
		...process.env,
		NAMESPACE: options.namespace,
		TRANSPORTER: options.transporter,
		DATABASE_URL: options.databaseUrl,
		REDIS_URL: options.redisUrl,
		JWT_SECRET: sharedJwtSecret(process.env)
	};
	if (options.discoverer) env.DISCOVERER = options.discoverer;
	else delete env.DISCOVERER;
	// Each process leases a Snowflake worker ID of its own; one WORKER_ID shared by five would mint duplicates.
	delete env.WORKER_ID;

	await ensureDatabase(options.databaseUrl);
	const migration = await migrate(env);
	if (migration.code !== 0) {
		console.error(
			`GoChat cluster cannot start: the migration failed (exit ${migration.code}):\n${migration.output}`
		);
		return 1;
	}
	console.log(
		`GoChat cluster: namespace ${options.namespace}, transporter ${options.transporter}, discovery ${options.discoverer ?? "by the transporter"}, database ${options.databaseUrl.replace(/\/\/[^@/]*@/, "//…@")}, Redis ${options.redisUrl}; ${migration.output.trim().split("\n").at(-1)}`
	);

	const cluster = new Cluster(options, await healthPorts(options.healthPort), env);
	let signals = 0;
	const onSignal = (signal: NodeJS.Signals) => {
		if (++signals > 1) {
			cluster.report(`${signal} again: killing every process now`);
			cluster.kill();
			return;
		}
		cluster.report(`${signal}: stopping every process (Ctrl-C again to kill them at once)`);
		void cluster.stop(signal);
	};
	process.on("SIGINT", onSignal);
	process.on("SIGTERM", onSignal);

	cluster.start();
	if ((await cluster.waitUntilReady()) && (await cluster.waitUntilConnected())) {
		cluster.report(`cluster ready: gateways ${cluster.gatewayUrls.join(" ")} (Ctrl-C stops it)`);
	} else if (signals === 0) {
		cluster.failed = true;
		void cluster.stop("SIGTERM");
	}
	await cluster.stopped();
	cluster.report(cluster.failed ? "cluster stopped, with failures" : "cluster stopped");
	return cluster.failed ? 1 : 0;
}

main(process.argv.slice(2)).then(
	code => process.exit(code),
	err => {
		console.error(err instanceof UsageError ? `${err.message}\n${USAGE}` : err);
		process.exit(err instanceof UsageError ? 2 : 1);
	}
);
