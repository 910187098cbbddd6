export const USAGE = `usage: npm run cluster -- [options]
  --ports 3000,3001        the two gateways' HTTP ports
  --health-port 9100       first of the five HEALTH_PORTs (/health, /ready), one per process; 0: any free ports
  --metrics-port N         first of five METRICS_PORTs (Prometheus /metrics); off unless given
  --transporter URL        nats://… or redis://… (env TRANSPORTER; default nats://127.0.0.1:4222)
  --discoverer URL|none    etcd3://host:2379 (env DISCOVERER; default etcd3://127.0.0.1:2379);
                           none: the transporter's own discovery
  --database URL           mysql://… (env DATABASE_URL; default mysql://root@127.0.0.1:3306/gochat),
                           created when missing and migrated once before the processes start
  --redis URL              redis://… (env REDIS_URL; default redis://127.0.0.1:6379)
  --namespace NAME         Moleculer namespace (env NAMESPACE; default gochat)
  --ready-timeout 60       seconds every process has to become ready
  --verbose                print every process's output, each line prefixed with its name
  --help                   this text
JWT_SECRET is shared by all processes: from the environment, else generated once into data/.cluster-jwt-secret.
QUEUE_URL, LOG_LEVEL and every other GoChat variable are passed to the processes as they are.`;

export interface ClusterOptions {
	ports: [number, number];
	/** First health port; 0: free ports. */
	healthPort: number;
	metricsPort: number | null;
	transporter: string;
	discoverer: string | null;
	databaseUrl: string;
	redisUrl: string;
	namespace: string;
	readyTimeoutSeconds: number;
	verbose: boolean;
	help: boolean;
}

export class UsageError extends Error {}

function port(flag: string, raw: string | undefined, allowZero = false): number {
	const value = Number(raw);
	if (!Number.isInteger(value) || value < (allowZero ? 0 : 1) || value > 65535) {
		throw new UsageError(`${flag} needs a port number, got "${raw ?? ""}"`);
	}
	return value;
}

/** Reads the command line over the environment over the defaults. */
export function parseClusterArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): ClusterOptions {
	const options: ClusterOptions = {
		ports: [3000, 3001],
		healthPort: 9100,
		metricsPort: null,
		transporter: env.TRANSPORTER?.trim() || "nats://127.0.0.1:4222",
		discoverer: env.DISCOVERER === undefined ? "etcd3://127.0.0.1:2379" : env.DISCOVERER.trim() || null,
		databaseUrl: env.DATABASE_URL?.trim() || "mysql://root@127.0.0.1:3306/gochat",
		redisUrl: env.REDIS_URL?.trim() || "redis://127.0.0.1:6379",
		namespace: env.NAMESPACE?.trim() || "gochat",
		readyTimeoutSeconds: 60,
		verbose: false,
		help: false
	};
	for (let i = 0; i < argv.length; i++) {
		const flag = argv[i];
		const value = () => {
			const next = argv[++i];
			if (next === undefined || next.startsWith("--")) throw new UsageError(`${flag} needs a value`);
			return next;
		};
		switch (flag) {
			case "--help":
			case "-h":
				options.help = true;
				break;
			case "--verbose":
				options.verbose = true;
				break;
			case "--ports": {
				const ports = value().split(",");
				if (ports.length !== 2) throw new UsageError(`--ports needs two ports, e.g. 3000,3001`);
				options.ports = [port(flag, ports[0]), port(flag, ports[1])];
				if (options.ports[0] === options.ports[1]) throw new UsageError("--ports needs two different ports");
				break;
			}
			case "--health-port":
				options.healthPort = port(flag, value(), true);
				break;
			case "--metrics-port":
				options.metricsPort = port(flag, value());
				break;
			case "--transporter":
				options.transporter = value();
				break;
			case "--discoverer": {
				const url = value();
				options.discoverer = url === "none" ? null : url;
				break;
			}
			case "--database":
				options.databaseUrl = value();
				break;
			case "--redis":
				options.redisUrl = value();
				break;
			case "--namespace":
				options.namespace = value();
				break;
			case "--ready-timeout": {
				const raw = value();
				options.readyTimeoutSeconds = Number(raw);
				if (!(options.readyTimeoutSeconds > 0))
					throw new UsageError(`--ready-timeout needs seconds, got "${raw}"`);
				break;
			}
			default:
				throw new UsageError(`unknown option "${flag}"`);
		}
	}
	if (!/^(nats|redis|rediss):\/\//.test(options.transporter)) {
		throw new UsageError(`the transporter must be nats://… or redis://…, got "${options.transporter}"`);
	}
	if (options.discoverer !== null && !options.discoverer.startsWith("etcd3://")) {
		throw new UsageError(`the discoverer must be etcd3://host:port or none, got "${options.discoverer}"`);
	}
	return options;
}
