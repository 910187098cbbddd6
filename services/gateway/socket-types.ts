import type { Service } from "moleculer";
import type { Server, Socket } from "socket.io";
import type { GatewayLimits } from "./gateway-limits";
import type { InFlightEvents } from "./in-flight";
import type { TypingThrottle } from "./typing-throttle";

/** What a connected socket carries: who it is, and the login session it belongs to. */
export interface SocketUser {
	userId: string;
	sessionId: string;
}

export interface SocketData extends Partial<SocketUser> {
	typing?: TypingThrottle;
	/** A `sync:required` waiting for its turn in a spread-out wave. */
	syncTimer?: NodeJS.Timeout;
	/** When the socket's access token expires (ms since the epoch); null if the token does not say. */
	expiresAt?: number | null;
	expiryTimer?: NodeJS.Timeout;
	/** Hands back this socket's place under the per-user and per-address caps; safe to call twice. */
	releaseSlot?: () => void;
}

/** Why a gateway tells its sockets to `sync`: it may have missed pushes for them. */
export type SyncReason = "presence-lost" | "transporter-reconnected" | "node-lost";

export type GatewaySocket = Socket & { $service: SocketGatewayThis; data: SocketData };

export interface SocketGatewayThis extends Service {
	io: Server;
	limits: GatewayLimits;
	socketsByUser: Map<string, Set<GatewaySocket>>;
	socketsBySession: Map<string, Set<GatewaySocket>>;
	heartbeatTimer?: NodeJS.Timeout;
	checkTimer?: NodeJS.Timeout;
	pushesReceived: number;
	/** The mark of the last checkpoint; null until the first one succeeded. */
	presenceMark: string | null;
	/** A presence write or check failed: this node's entries may be missing until written again. */
	presenceSuspect: boolean;
	/** Sockets must be told to sync once presence is known good again. */
	pendingSync: SyncReason | null;
	presenceCheck: Promise<void> | null;
	/** Set once the node's sockets and presence were released at stop. */
	released?: boolean;
	/** Socket events being worked on, with their acks (waited for when draining). */
	inFlight: InFlightEvents;
	/** Set when the gateway began to drain: new sockets, requests and events are refused. */
	draining: boolean;
	releaseSockets(): Promise<void>;
	drainSockets(deadline: number): Promise<string[]>;
	onConnected(socket: GatewaySocket): Promise<void>;
	onDisconnected(socket: GatewaySocket): Promise<void>;
	heartbeat(): Promise<void>;
	checkPresence(): Promise<void>;
	runPresenceCheck(): Promise<void>;
	presenceFailed(why: string): void;
	askToSync(reason: SyncReason): void;
	callAs(socket: GatewaySocket, action: string, params: Record<string, unknown>): Promise<any>;
	moveToSession(socket: GatewaySocket, sessionId: string): void;
	watchExpiry(socket: GatewaySocket): void;
	cutOff(socket: GatewaySocket): void;
	endSocket(socket: GatewaySocket, event: string, why: { code: string; message: string }): void;
}
