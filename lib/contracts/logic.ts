import type { AccessClaims } from "../auth-rules";
import type { DeliveryReport, Push } from "../push-coalescer";
import type { Message } from "../types";
import type { FanoutJob } from "./channels";
import type { RestActions, SyncParams, SyncReply } from "./client";

export type {
	HistoryParams,
	LoginParams,
	ReadState,
	RegisterParams,
	SendParams,
	SyncedConversation,
	SyncParams,
	SyncReply,
	UpdateMeParams
} from "./client";

/** Counters of one logic node since it started, for operators (gochat stats). */
export interface SendStats {
	nodeId: string;
	accepted: number;
	refused: number;
	/** Per second over the last few seconds. */
	acceptedPerSecond: number;
	refusedPerSecond: number;
}

/** An event for the members of a conversation who get its messages inline (see delivery). */
export interface MembersPush {
	conversationId: string;
	event: string;
	payload: unknown;
	exceptUserId?: string;
}

type NoParams = Record<string, never>;

/** A gateway node's presence check: pass `mark` back next time; not intact means its entries may be gone. */
export interface PresenceCheckpoint {
	intact: boolean;
	mark: string;
}

/**
 * Contracts of the logic role: the REST actions (./client.ts) and the ones the gateway reaches
 * through socket events or other services call, so a handler that drifts from what its callers send
 * fails tsc.
 */
export interface LogicActions extends RestActions {
	"auth.resolveToken": { params: { token: string }; result: AccessClaims };
	"conversations.typing": { params: { conversationId: string }; result: { notified: number } };

	"messages.sync": { params: SyncParams; result: SyncReply };
	/** Private: the work of one sync answer, behind the bulkhead of sync. */
	"messages.buildSync": { params: SyncParams; result: SyncReply };
	"messages.stats": { params: NoParams; result: SendStats };
	/** A system message from an operator, stored and delivered like any other. */
	"messages.say": { params: { conversationId: string; text: string }; result: Message };

	"delivery.toUsers": { params: Push; result: DeliveryReport };
	/** A stored message to its conversation's members: pushed at once, or queued for task when the room is large. */
	"delivery.message": { params: FanoutJob; result: { queued: boolean } };
	/** An ephemeral event (typing) to the members that get messages inline; large rooms get none. */
	"delivery.toMembers": { params: MembersPush; result: DeliveryReport };

	/** The gateway reports facts; logic decides what follows (presence entries, peers told). */
	"presence.connected": { params: { userId: string; nodeId: string }; result: void };
	"presence.disconnected": { params: { userId: string; nodeId: string }; result: void };
	/** A gateway node's users, every TTL/3 and whenever presence.checkpoint finds its entries lost. */
	"presence.heartbeat": { params: { nodeId: string; userIds: string[] }; result: number };
	/** Whether the node's entries survived since its last checkpoint; when not, it reports its users again. */
	"presence.checkpoint": { params: { nodeId: string; mark: string }; result: PresenceCheckpoint };
	/** A gateway node stops: its entries go, and the peers of users now offline everywhere are told. */
	"presence.nodeStopped": { params: { nodeId: string }; result: number };
}
