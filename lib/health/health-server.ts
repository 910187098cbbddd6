import http from "http";
import type { AddressInfo } from "net";
import type { ServiceBroker } from "moleculer";
import type { Config } from "../config";
import { ErrorCode, GoChatError, toHttpError } from "../errors";
import { PROBE_PATHS } from "../probes";
import { checkReadiness } from "./readiness";

const HEALTH_PORT_KEY = "$gochatHealthPort";

/** Liveness: the process runs and its event loop answers; nothing else is asked. */
export function healthBody(broker: ServiceBroker) {
	return { status: "ok" as const, nodeId: broker.nodeID, uptimeSeconds: Math.round(process.uptime()) };
}

function send(res: http.ServerResponse, status: number, body: unknown) {
	res.writeHead(status, { "Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store" });
	res.end(JSON.stringify(body));
}

/** Errors leave as the API's do: {error: {code, message, details?}} with the code's status. */
function refuse(res: http.ServerResponse, code: ErrorCode, message: string, details?: unknown) {
	const { status, body } = toHttpError(new GoChatError(code, message, details));
	send(res, status, body);
}

/** The probe server's handler: /health, /ready, and errors shaped as the API's. */
export function probeHandler(broker: ServiceBroker, config: Pick<Config, "redisUrl">) {
	return async (req: http.IncomingMessage, res: http.ServerResponse) => {
		const path = (req.url ?? "/").split("?")[0];
		if (
			(path !== PROBE_PATHS.health && path !== PROBE_PATHS.ready) ||
			(req.method !== "GET" && req.method !== "HEAD")
		)
			return refuse(
				res,
				"ROUTE_NOT_FOUND",
				`Only GET ${PROBE_PATHS.health} and GET ${PROBE_PATHS.ready} are served here`
			);
		if (path === PROBE_PATHS.health) return send(res, 200, healthBody(broker));
		try {
			const readiness = await checkReadiness(broker, config);
			if (readiness.ready) {
				const { nodeId, checks, database } = readiness;
				return send(res, 200, { status: "ready", nodeId, checks, ...(database ? { database } : {}) });
			}
			refuse(res, "SERVICE_UNAVAILABLE", readiness.problems.join("; "), {
				nodeId: readiness.nodeId,
				checks: readiness.checks
			});
		} catch (err) {
			refuse(res, "SERVICE_UNAVAILABLE", `Readiness could not be checked: ${(err as Error).message}`);
		}
	};
}

/**
 * /health and /ready on HEALTH_PORT for every role (docs/lifecycle.md#probes), from the moment
 * the broker starts starting until it stopped: a slow start (migrations) answers alive but not
 * ready, and a draining process not ready. Off when HEALTH_PORT is unset.
 */
export function HealthMiddleware(config: Pick<Config, "healthPort" | "host" | "redisUrl">) {
	let server: http.Server | null = null;
	return {
		name: "HealthServer",

		async starting(broker: ServiceBroker) {
			if (config.healthPort === null) return;
			const probes = http.createServer(probeHandler(broker, config));
			// A probe is one small request: nothing may hold the server open at stop.
			probes.keepAliveTimeout = 1000;
			probes.requestTimeout = 5000;
			await new Promise<void>((resolve, reject) => {
				probes.once("error", err =>
					reject(new Error(`HEALTH_PORT ${config.healthPort} cannot be used: ${(err as Error).message}`))
				);
				probes.listen(config.healthPort!, config.host, () => resolve());
			});
			server = probes;
			const { port } = probes.address() as AddressInfo;
			(broker as unknown as Record<string, number>)[HEALTH_PORT_KEY] = port;
			broker.logger.info(`Probes on http://${config.host}:${port}${PROBE_PATHS.health} and ${PROBE_PATHS.ready}`);
		},

		async stopped() {
			const probes = server;
			server = null;
			if (!probes) return;
			probes.closeAllConnections();
			await new Promise<void>(resolve => probes.close(() => resolve()));
		}
	};
}

/** The port the broker's probe server listens on (HEALTH_PORT=0 picks one), for tests and the start line. */
export function healthPortOf(broker: ServiceBroker): number | null {
	return (broker as unknown as Record<string, number | undefined>)[HEALTH_PORT_KEY] ?? null;
}
