import { ChildProcess, spawn } from "child_process";
import { freePort } from "../lib/ports";
import { ClusterOptions } from "./options";
import { ROOT, SERVER_SCRIPT } from "./paths";

/** Lines of a process's output kept to show when it fails. */
const TAIL_LINES = 30;

export type State = "starting" | "up" | "ready" | "stopping" | "stopped" | "failed";

/** One of the five processes: its role, its ports, and what is known of it so far. */
export interface Member {
	name: string;
	services: string;
	/** The gateway's HTTP port; null for the other roles. */
	port: number | null;
	healthPort: number;
	metricsPort: number | null;
	child?: ChildProcess;
	state: State;
	exitCode?: number | null;
	tail: string[];
	/** Why /ready last said no. */
	lastRefusal?: string;
}

/** Two gateways, then logic, repo and task, each in a process of its own. */
export function createMembers(options: ClusterOptions, healthPorts: number[]): Member[] {
	const roles: Array<[string, string, number | null]> = [
		["gateway-1", "gateway", options.ports[0]],
		["gateway-2", "gateway", options.ports[1]],
		["logic", "logic", null],
		["repo", "repo", null],
		["task", "task", null]
	];
	return roles.map(([name, services, port], i) => ({
		name,
		services,
		port,
		healthPort: healthPorts[i],
		metricsPort: options.metricsPort === null ? null : options.metricsPort + i,
		state: "starting",
		tail: []
	}));
}

/** The five health ports: `first` and the four after it, or five distinct free ones when `first` is 0. */
export async function healthPorts(first: number): Promise<number[]> {
	if (first !== 0) return [0, 1, 2, 3, 4].map(i => first + i);
	const ports: number[] = [];
	while (ports.length < 5) {
		const candidate = await freePort();
		if (!ports.includes(candidate)) ports.push(candidate);
	}
	return ports;
}

export function statusLine(member: Member): string {
	const where = member.port ? `http://127.0.0.1:${member.port}` : `health :${member.healthPort}`;
	const pid = member.child?.pid ? `pid ${member.child.pid}` : "";
	const exit = member.exitCode !== undefined ? `exit ${member.exitCode ?? "signal"}` : "";
	return [member.name.padEnd(10), member.state.padEnd(9), where.padEnd(24), pid.padEnd(10), exit].join(" ").trimEnd();
}

/**
 * Starts the member's `node dist/server.js` with its SERVICES and ports on top of the cluster's
 * environment; keeps its last lines in `member.tail`, and prints them all when `verbose`.
 */
export function spawnMember(member: Member, clusterEnv: NodeJS.ProcessEnv, verbose: boolean): ChildProcess {
	const env: NodeJS.ProcessEnv = {
		...clusterEnv,
		SERVICES: member.services,
		NODE_ID: member.name,
		HEALTH_PORT: String(member.healthPort),
		MIGRATE_ON_START: "false"
	};
	delete env.PORT;
	delete env.METRICS_PORT;
	if (member.port) env.PORT = String(member.port);
	if (member.metricsPort !== null) env.METRICS_PORT = String(member.metricsPort);
	// Its own process group: a terminal's Ctrl-C reaches this script alone, which stops the processes in order.
	const child = spawn(process.execPath, [SERVER_SCRIPT], {
		cwd: ROOT,
		env,
		detached: true,
		stdio: ["ignore", "pipe", "pipe"]
	});
	member.child = child;
	const collect = (chunk: Buffer) => {
		for (const line of chunk.toString().split("\n")) {
			if (!line) continue;
			member.tail.push(line);
			if (member.tail.length > TAIL_LINES) member.tail.shift();
			if (verbose) console.log(`[${member.name}] ${line}`);
		}
	};
	child.stdout?.on("data", collect);
	child.stderr?.on("data", collect);
	return child;
}

/** True while the member's process has not exited. */
export function running(member: Member): member is Member & { child: ChildProcess } {
	const child = member.child;
	return child !== undefined && child.exitCode === null && child.signalCode === null;
}
