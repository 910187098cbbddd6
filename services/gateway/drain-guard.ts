import type { IncomingMessage, Server, ServerResponse } from "http";
import type { Duplex } from "stream";
import { toHttpError, GoChatError } from "../../lib/errors";
import { PROBE_PATHS } from "../../lib/probes";

/** What a client refused by a draining gateway is told to wait before it tries again (it reaches another one). */
export const DRAIN_RETRY_AFTER_SECONDS = 1;

const PROBES = new Set<string>(Object.values(PROBE_PATHS));

function refusalBody(): string {
	const { body } = toHttpError(
		new GoChatError("SERVICE_UNAVAILABLE", "This server is shutting down; retry, you will reach another one", {
			retryAfter: DRAIN_RETRY_AFTER_SECONDS
		})
	);
	return JSON.stringify(body);
}

/**
 * A request that belongs to a socket already connected (Socket.IO long-polling, or its upgrade to
 * WebSocket, carry the session's `sid`) still goes through: its acks must reach it.
 */
function belongsToOpenSocket(req: IncomingMessage): boolean {
	return /[?&]sid=/.test(req.url ?? "");
}

function passes(req: IncomingMessage): boolean {
	const path = (req.url ?? "/").split("?")[0];
	return PROBES.has(path) || belongsToOpenSocket(req);
}

/**
 * Puts a check in front of the HTTP server's own listeners (moleculer-web, and Socket.IO's, which
 * must be attached already): while `draining()`, new requests and new sockets are answered 503 with
 * Retry-After and Connection: close; the probes and the open sockets' own traffic go on.
 */
export function guardWhileDraining(server: Server, draining: () => boolean): void {
	const requestListeners = server.listeners("request") as Array<(req: IncomingMessage, res: ServerResponse) => void>;
	server.removeAllListeners("request");
	server.on("request", (req: IncomingMessage, res: ServerResponse) => {
		if (draining() && !passes(req)) {
			res.writeHead(503, {
				"Content-Type": "application/json; charset=utf-8",
				"Retry-After": String(DRAIN_RETRY_AFTER_SECONDS),
				Connection: "close"
			});
			res.end(refusalBody());
			return;
		}
		for (const listener of requestListeners) listener.call(server, req, res);
	});

	const upgradeListeners = server.listeners("upgrade") as Array<
		(req: IncomingMessage, socket: Duplex, head: Buffer) => void
	>;
	server.removeAllListeners("upgrade");
	server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
		if (draining() && !passes(req)) {
			const body = refusalBody();
			socket.on("error", () => undefined);
			socket.end(
				"HTTP/1.1 503 Service Unavailable\r\n" +
					`Retry-After: ${DRAIN_RETRY_AFTER_SECONDS}\r\n` +
					"Connection: close\r\n" +
					"Content-Type: application/json; charset=utf-8\r\n" +
					`Content-Length: ${Buffer.byteLength(body)}\r\n\r\n` +
					body
			);
			return;
		}
		for (const listener of upgradeListeners) listener.call(server, req, socket, head);
	});
}
