import type { Push } from "../push-coalescer";

/** What one gateway node holds, for operators (gochat stats). */
export interface GatewayStats {
	nodeId: string;
	sockets: number;
	users: number;
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

export interface GatewayActions {
	"api.push": { params: { pushes: Push[] }; result: number };
	"api.stats": { params: Record<string, never>; result: GatewayStats };
	/** Disconnects every socket of the user on this node; returns how many. */
	"api.disconnectUser": { params: { userId: string; reason: string }; result: number };
}
