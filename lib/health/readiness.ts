import type { ServiceBroker } from "moleculer";
import type { Config } from "../config";
import type { DatabaseStatus } from "../contracts/repo";
import { lifecycleOf } from "./lifecycle";
import { remoteNeeds } from "./requirements";

/** A dependency that does not answer within this long counts as down: a hung one gives 503, not a hung probe. */
export const CHECK_TIMEOUT_MS = 2000;

/** One check's outcome, in words an operator reads in the 503 body ("ok" when it passed). */
export type CheckResult = { ok: true; detail: string } | { ok: false; problem: string };

export interface Readiness {
	ready: boolean;
	nodeId: string;
	/** Every check that ran, by name: broker, transporter, services, database, redis, pushers. */
	checks: Record<string, string>;
	/** What is missing, one sentence each; empty when ready. */
	problems: string[];
	database?: { dialect: string; migrated: boolean };
}

type ServiceInfo = { name: string; nodeID: string };

function within<T>(work: Promise<T>, timeoutMs: number, what: string): Promise<T> {
	let timer: NodeJS.Timeout;
	const timeout = new Promise<never>((_, reject) => {
		timer = setTimeout(() => reject(new Error(`${what} did not answer within ${timeoutMs} ms`)), timeoutMs);
	});
	return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

const ok = (detail: string): CheckResult => ({ ok: true, detail });
const missing = (problem: string): CheckResult => ({ ok: false, problem });

function localServiceNames(broker: ServiceBroker): string[] {
	return broker.services.map(service => service.fullName).filter(name => !name.startsWith("$"));
}

function brokerCheck(broker: ServiceBroker): CheckResult {
	if (lifecycleOf(broker).draining) return missing("The process is shutting down (draining)");
	if (broker.stopping) return missing("The process is stopping");
	if (!broker.started) return missing("The process is starting: its services have not all started yet");
	return ok("started");
}

/** Moleculer's transit: null without a transporter (embedded mode, where there is nothing to reach). */
function transporterCheck(broker: ServiceBroker): CheckResult | null {
	const transit = (broker as unknown as { transit?: { connected: boolean } }).transit;
	if (!transit) return null;
	return transit.connected ? ok("connected") : missing("The transporter is not connected");
}

function servicesCheck(broker: ServiceBroker, local: string[]): CheckResult {
	const needed = remoteNeeds(local);
	if (needed.length === 0) return ok("none needed from other nodes");
	const list = broker.registry.getServiceList({ onlyAvailable: true }) as unknown as ServiceInfo[];
	const available = new Set(list.map(service => service.name));
	const absent = needed.filter(name => !available.has(name));
	if (absent.length > 0) return missing(`Waiting for services: ${absent.join(", ")}`);
	return ok(`${needed.length} available`);
}

/** Services that push to gateways by node ID: a gateway they do not know yet would miss its pushes. */
const PUSHERS = ["delivery", "task.fanout"];

/**
 * A gateway is ready once every node that pushes (logic's delivery, task's fan-out) lists its api.
 * With etcd discovery a running node learns of a new one only at its next heartbeat (up to ~5 s):
 * until then messages for this gateway's sockets would reach them by sync only.
 */
async function knownToPushersCheck(broker: ServiceBroker, local: string[]): Promise<CheckResult | null> {
	const transit = (broker as unknown as { transit?: object }).transit;
	if (!transit || !local.includes("api")) return null;
	const list = broker.registry.getServiceList({ onlyAvailable: true }) as unknown as ServiceInfo[];
	const pushers = [
		...new Set(list.filter(s => PUSHERS.includes(s.name) && s.nodeID !== broker.nodeID).map(s => s.nodeID))
	];
	const unaware: string[] = [];
	await Promise.all(
		pushers.map(async nodeID => {
			try {
				const seen: ServiceInfo[] = await within(
					broker.call(
						"$node.services",
						{ onlyAvailable: true, skipInternal: true, grouping: false },
						// Untracked: a probe's call must never hold up the process's stop.
						{ nodeID, timeout: CHECK_TIMEOUT_MS, retries: 0, tracking: false }
					),
					CHECK_TIMEOUT_MS,
					`Node ${nodeID}`
				);
				if (!seen.some(s => s.name === "api" && s.nodeID === broker.nodeID)) unaware.push(nodeID);
			} catch {
				unaware.push(nodeID);
			}
		})
	);
	if (unaware.length > 0) return missing(`Not yet known to the nodes that push to it: ${unaware.sort().join(", ")}`);
	return ok(`known to ${pushers.length} pushing node(s)`);
}

/** Asks repo.database of this node when it runs one (a repo process checks its own connection), else any. */
async function databaseCheck(
	broker: ServiceBroker,
	local: string[]
): Promise<{ result: CheckResult; status?: DatabaseStatus }> {
	const list = broker.registry.getServiceList({ onlyAvailable: true }) as unknown as ServiceInfo[];
	if (!list.some(service => service.name === "repo.database"))
		return { result: missing("The database status is unknown: no repo.database service is available") };
	const nodeID = local.includes("repo.database") ? broker.nodeID : undefined;
	try {
		const status: DatabaseStatus = await within(
			broker.call(
				"repo.database.status",
				{},
				// Untracked: a probe's call must never hold up the process's stop.
				{ nodeID, timeout: CHECK_TIMEOUT_MS, retries: 0, tracking: false }
			),
			CHECK_TIMEOUT_MS,
			"The database status"
		);
		if (!status.reachable) return { result: missing("The database is unreachable"), status };
		if (!status.migrated) return { result: missing(`Migrations pending: ${status.pending.join(", ")}`), status };
		return { result: ok(`${status.dialect}, migrated`), status };
	} catch (err) {
		return { result: missing(`The database status is unknown: ${(err as Error).message}`) };
	}
}

/** PING on the Redis connection of the broker's cacher (GoChat's cacher is Redis whenever REDIS_URL is set). */
async function redisCheck(broker: ServiceBroker): Promise<CheckResult> {
	const client = (broker.cacher as unknown as { client?: { ping(): Promise<string> } } | undefined)?.client;
	if (typeof client?.ping !== "function")
		return missing("Redis is configured but this process has no connection to it");
	try {
		await within(client.ping(), CHECK_TIMEOUT_MS, "Redis");
		return ok("answers");
	} catch (err) {
		return missing(`Redis is unreachable: ${(err as Error).message}`);
	}
}

/**
 * Whether this process can do its work now (docs/lifecycle.md#readiness): it started and is not
 * draining, its transporter is connected, the services its own services call run somewhere, and
 * the database (for a process running repo services or the gateway) and Redis (when configured)
 * answer within CHECK_TIMEOUT_MS. The same answer on HEALTH_PORT and on a gateway's PORT.
 */
export async function checkReadiness(broker: ServiceBroker, config: Pick<Config, "redisUrl">): Promise<Readiness> {
	const local = localServiceNames(broker);
	const usesDatabase = local.some(name => name === "api" || name.startsWith("repo."));
	const running = brokerCheck(broker);
	const [database, redis, known] = await Promise.all([
		usesDatabase ? databaseCheck(broker, local) : null,
		config.redisUrl ? redisCheck(broker) : null,
		// Asking other nodes is pointless while this one starts, drains or stops.
		running.ok ? knownToPushersCheck(broker, local) : null
	]);
	const results: Record<string, CheckResult | null> = {
		broker: running,
		transporter: transporterCheck(broker),
		services: servicesCheck(broker, local),
		database: database?.result ?? null,
		redis,
		pushers: known
	};
	const checks: Record<string, string> = {};
	const problems: string[] = [];
	for (const [name, result] of Object.entries(results)) {
		if (!result) continue;
		checks[name] = result.ok ? result.detail : result.problem;
		// The services check and the database check both name a missing repo.database: say it once.
		if (!result.ok && !problems.includes(result.problem)) problems.push(result.problem);
	}
	const status = database?.status;
	return {
		ready: problems.length === 0,
		nodeId: broker.nodeID,
		checks,
		problems,
		...(status ? { database: { dialect: status.dialect, migrated: status.migrated } } : {})
	};
}
