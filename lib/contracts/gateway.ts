import type { Push } from "../push-coalescer";

/** What one gateway node holds, for operators (gochat stats). */
export interface GatewayStats {
	nodeId: string;
	sockets: number;
	users: number;
	/** Pushes (entries of api.push batches) received since the node started: how the cluster spreads them. */
	pushesReceived: number;
}

export interface GatewayHealth {
	status: "ok";
	nodeId: string;
	uptimeSeconds: number;
}

export interface GatewayReadiness {
	status: "ready";
	nodeId: string;
	/** Each check that ran and what it found (lib/health/readiness.ts). */
	checks: Record<string, string>;
	database?: { dialect: string; migrated: boolean };
}

/** The validator rule of one push (delivery.toUsers) and of a gateway's batch of them (api.push). */
export const pushParamsRule = {
	userIds: { type: "array", items: "string" },
	event: "string",
	payload: "any",
	exceptSocketId: { type: "string", optional: true },
	everyone: { type: "boolean", optional: true }
};
export const pushListRule = { pushes: { type: "array", items: { type: "object", props: pushParamsRule } } };

/**
 * Actions of the gateway (service "api"). health and ready are its HTTP probes, openapi and docs
 * describe its REST API; the others are called by other services or by operators with a nodeID,
 * never over HTTP.
 */
export interface GatewayActions {
	"api.health": { params: Record<string, never>; result: GatewayHealth };
	"api.ready": { params: Record<string, never>; result: GatewayReadiness };
	/** The OpenAPI 3.1 document of the REST routes (GET /api/v1/openapi.json). */
	"api.openapi": { params: Record<string, never>; result: Record<string, unknown> };
	/** The HTML page that renders it (GET /api/docs). */
	"api.docs": { params: Record<string, never>; result: string };
	"api.push": { params: { pushes: Push[] }; result: number };
	"api.stats": { params: Record<string, never>; result: GatewayStats };
	/** How many sockets the user has on this node. */
	"api.userSockets": { params: { userId: string }; result: number };
	/** Disconnects every socket of the user on this node, telling each why (`auth:revoked`); returns how many. */
	"api.disconnectUser": { params: { userId: string; reason: string }; result: number };
}
