import type { AccessClaims } from "../auth-rules";
import type { DeliveryReport, Push } from "../push-coalescer";
import type { Message } from "../types";
import type { FanoutJob } from "./channels";

/** Counters of one logic node since it started, for operators (gochat stats). */
export interface SendStats {
	nodeId: string;
	accepted: number;
	refused: number;
	/** Per second over the last few seconds. */
	acceptedPerSecond: number;
	refusedPerSecond: number;
}

/**
 * Contracts of the logic role. Actions the gateway reaches through REST aliases and socket events
 * belong here too, so a handler that drifts from what the gateway sends fails tsc.
 */
export interface LogicActions {
	"auth.resolveToken": { params: { token: string }; result: AccessClaims };
	"delivery.toUsers": { params: Push; result: DeliveryReport };
	"delivery.message": { params: FanoutJob; result: { queued: boolean } };
	"presence.announce": { params: { userId: string; online: boolean }; result: number };
	/** The gateway reports facts; logic decides what follows (presence entries, peers told). */
	"presence.connected": { params: { userId: string; nodeId: string }; result: void };
	"presence.disconnected": { params: { userId: string; nodeId: string }; result: void };
	"presence.heartbeat": { params: { nodeId: string; userIds: string[] }; result: number };
	"messages.stats": { params: Record<string, never>; result: SendStats };
	/** A system message from an operator, stored and delivered like any other. */
	"messages.say": { params: { conversationId: string; text: string }; result: Message };
}
