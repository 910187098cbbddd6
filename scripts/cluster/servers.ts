import net from "net";
import { ClusterOptions } from "./options";

/** A server the cluster needs, where it should be, and how to get one running there. */
export interface Requirement {
	name: string;
	setting: string;
	host: string;
	port: number;
	howToStart: string;
}

function hostPort(url: string, defaultPort: number): { host: string; port: number } {
	const { hostname, port } = new URL(url);
	return { host: hostname, port: Number(port) || defaultPort };
}

/** The servers the options point at, each with the command that starts one locally. */
export function requirements(options: ClusterOptions): Requirement[] {
	const needed: Requirement[] = [];
	if (/^(mysql|mariadb):/.test(options.databaseUrl)) {
		needed.push({
			name: "MariaDB",
			setting: "--database / DATABASE_URL",
			...hostPort(options.databaseUrl, 3306),
			howToStart:
				"sudo service mariadb start, or docker run -d -p 3306:3306 -e MARIADB_ALLOW_EMPTY_ROOT_PASSWORD=1 mariadb:11"
		});
	}
	needed.push({
		name: "Redis",
		setting: "--redis / REDIS_URL",
		...hostPort(options.redisUrl, 6379),
		howToStart: "redis-server --daemonize yes, or docker run -d -p 6379:6379 redis:7"
	});
	if (options.transporter.startsWith("nats:")) {
		needed.push({
			name: "NATS",
			setting: "--transporter / TRANSPORTER",
			...hostPort(options.transporter, 4222),
			howToStart:
				"nats-server -js, or docker run -d -p 4222:4222 nats:2 -js (or --transporter redis://127.0.0.1:6379)"
		});
	} else if (hostPort(options.transporter, 6379).port !== hostPort(options.redisUrl, 6379).port) {
		needed.push({
			name: "Redis (transporter)",
			setting: "--transporter / TRANSPORTER",
			...hostPort(options.transporter, 6379),
			howToStart: "redis-server --port <port> --daemonize yes"
		});
	}
	if (options.discoverer) {
		for (const member of options.discoverer.slice("etcd3://".length).split(",")) {
			needed.push({
				name: "etcd",
				setting: "--discoverer / DISCOVERER",
				...hostPort(`http://${member}`, 2379),
				howToStart:
					"etcd --data-dir /tmp/gochat-etcd, or docker run -d -p 2379:2379 quay.io/coreos/etcd:v3.5.17 etcd --listen-client-urls http://0.0.0.0:2379 --advertise-client-urls http://127.0.0.1:2379 (or --discoverer none)"
			});
		}
	}
	return needed;
}

function reachable({ host, port }: { host: string; port: number }, timeoutMs = 1500): Promise<boolean> {
	return new Promise(resolve => {
		const socket = net.connect(port, host);
		const done = (ok: boolean) => {
			socket.destroy();
			resolve(ok);
		};
		socket.setTimeout(timeoutMs, () => done(false));
		socket.once("connect", () => done(true));
		socket.once("error", () => done(false));
	});
}

/** The servers the options point at that do not answer, to name before anything starts. */
export async function unreachableServers(options: ClusterOptions): Promise<Requirement[]> {
	const missing: Requirement[] = [];
	await Promise.all(
		requirements(options).map(async need => {
			if (!(await reachable(need))) missing.push(need);
		})
	);
	return missing;
}
