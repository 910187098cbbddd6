import type { Context, Service, ServiceSchema } from "moleculer";
import SocketIOService from "moleculer-io";
import type { Server, Socket } from "socket.io";
import { getConfig } from "../../lib/config";
import { GoChatError, toHttpError } from "../../lib/errors";
import type { Push } from "../../lib/push-coalescer";
import { pushListRule } from "../logic/delivery.service";

/** What a connected socket carries: who it is, and the login session it belongs to. */
interface SocketUser {
	userId: string;
	sessionId: string;
}

interface SocketData extends Partial<SocketUser> {
	/** When this socket last sent a typing notice, per conversation. */
	typingAt?: Map<unknown, number>;
}

type GatewaySocket = Socket & { $service: SocketGatewayThis; data: SocketData };
type Ack = (reply: unknown) => void;

export interface SocketGatewayThis extends Service {
	io: Server;
	socketsByUser: Map<string, Set<GatewaySocket>>;
	socketsBySession: Map<string, Set<GatewaySocket>>;
	heartbeatTimer?: NodeJS.Timeout;
	pushesReceived: number;
	onConnected(socket: GatewaySocket): Promise<void>;
	onDisconnected(socket: GatewaySocket): Promise<void>;
	heartbeat(): Promise<void>;
	callAs(socket: GatewaySocket, action: string, params: unknown): Promise<any>;
}

/** A client may send one typing notice per conversation this often; faster ones are dropped. */
export const TYPING_INTERVAL_MS = 1000;
const HEARTBEAT_CHUNK = 1000;
const userRoom = (userId: string) => `user:${userId}`;

/**
 * One handler per client event: calls the logic action as the socket's user and acks
 * `{ok: true, ...result}` or `{ok: false, error: {code, message}}`, the REST error shape.
 */
function clientEvent(action: string) {
	return async function (this: GatewaySocket, ...args: unknown[]) {
		const respond = typeof args[args.length - 1] === "function" ? (args.pop() as Ack) : null;
		// An event sent with only an ack (emit("sync", ack)) has an empty payload.
		const payload = args[0] === undefined ? {} : args[0];
		try {
			if (payload === null || typeof payload !== "object" || Array.isArray(payload)) {
				throw new GoChatError("INVALID_INPUT", "The event payload must be an object");
			}
			const result = await this.$service.callAs(this, action, payload);
			respond?.({ ok: true, ...result });
		} catch (err) {
			const { status, body } = toHttpError(err);
			if (status >= 500 && status !== 503) this.$service.logger.error(`Socket event for ${action} failed:`, err);
			respond?.({ ok: false, error: body.error });
		}
	};
}

/** Typing notices are throttled per socket and conversation before they reach logic. */
function typingEvent(this: GatewaySocket, payload: unknown, ack?: unknown) {
	const respond: Ack | null = typeof ack === "function" ? (ack as Ack) : null;
	const conversationId = (payload as { conversationId?: unknown } | null)?.conversationId;
	const last = (this.data.typingAt ??= new Map());
	const now = Date.now();
	if (last.has(conversationId) && now - last.get(conversationId)! < TYPING_INTERVAL_MS) {
		respond?.({ ok: false, error: { code: "RATE_LIMITED", message: `At most one typing notice per ${TYPING_INTERVAL_MS} ms per conversation` } });
		return;
	}
	last.set(conversationId, now);
	return clientEvent("conversations.typing").call(this, payload, ack);
}

/** The events a client may send; anything else gets an error ack. */
const CLIENT_EVENTS = new Set(["message:send", "conversation:read", "typing", "sync"]);

function unknownEvent(this: GatewaySocket, ...args: unknown[]) {
	const respond = args.find(a => typeof a === "function") as Ack | undefined;
	respond?.({ ok: false, error: { code: "ROUTE_NOT_FOUND", message: "No such event" } });
}

/**
 * The gateway's realtime face (moleculer-io, Socket.IO 4) on the HTTP server's port: the token is
 * checked at the handshake, each socket joins its user's room, the node reports its users to
 * presence (with a heartbeat), and `push` delivers events to the sockets this node holds.
 */
export function createSocketGatewayMixin(): Partial<ServiceSchema> {
	return {
		mixins: [SocketIOService as Partial<ServiceSchema>],

		settings: {
			io: {
				options: { serveClient: false, pingInterval: 25000, pingTimeout: 20000, maxHttpBufferSize: 1024 * 1024 },
				namespaces: {
					"/": {
						authorization: true,
						events: {
							// moleculer-io's generic "call" event would expose every published action.
							call: unknownEvent,
							"message:send": clientEvent("messages.send"),
							"conversation:read": clientEvent("conversations.markRead"),
							typing: typingEvent,
							sync: clientEvent("messages.sync")
						}
					}
				}
			}
		},

		actions: {
			// moleculer-io publishes these; GoChat's clients must not reach them.
			broadcast: { visibility: "private" },
			getClients: { visibility: "private" },

			/** Emits each event to the sockets of its users (or to every socket) that this node holds. */
			push: {
				visibility: "public",
				params: pushListRule,
				handler(this: SocketGatewayThis, ctx: Context<{ pushes: Push[] }>): number {
					let reached = 0;
					for (const { userIds, event, payload, exceptSocketId, everyone } of ctx.params.pushes) {
						this.pushesReceived++;
						const here = everyone ? [] : userIds.filter(id => this.socketsByUser.has(id));
						if (!everyone && here.length === 0) continue;
						let target = everyone ? this.io.local : this.io.to(here.map(userRoom));
						if (exceptSocketId) target = target.except(exceptSocketId);
						target.emit(event, payload);
						reached += everyone ? this.socketsByUser.size : here.length;
					}
					return reached;
				}
			},

			/** What this gateway node holds, for operators (REPL: call api.realtimeStats). */
			realtimeStats: {
				visibility: "public",
				params: {},
				handler(this: SocketGatewayThis) {
					let sockets = 0;
					for (const set of this.socketsByUser.values()) sockets += set.size;
					return { nodeId: this.broker.nodeID, users: this.socketsByUser.size, sockets, pushesReceived: this.pushesReceived };
				}
			}
		},

		events: {
			/** Logging out ends the session's sockets too: their token was only checked at the handshake. */
			"session.revoked": {
				params: { sessionId: "string" },
				handler(this: SocketGatewayThis, ctx: Context<{ sessionId: string }>) {
					for (const socket of this.socketsBySession.get(ctx.params.sessionId) ?? []) socket.disconnect(true);
				}
			}
		},

		methods: {
			/** Handshake: `auth: {token}`; a refusal's message says what was wrong. */
			async socketAuthorize(this: SocketGatewayThis, socket: GatewaySocket): Promise<SocketUser> {
				const token = (socket.handshake.auth as { token?: unknown })?.token;
				try {
					if (typeof token !== "string" || token === "") {
						throw new GoChatError("UNAUTHORIZED", "Connect with auth: {token: <accessToken>}");
					}
					const claims = await this.broker.call<SocketUser, { token: string }>("auth.resolveToken", { token });
					socket.data.userId = claims.userId;
					socket.data.sessionId = claims.sessionId;
					return claims;
				} catch (err) {
					const { body } = toHttpError(err);
					const refusal = new Error(`${body.error.code}: ${body.error.message}`) as Error & { data: unknown };
					refusal.data = body.error;
					throw refusal;
				}
			},

			async callAs(this: SocketGatewayThis, socket: GatewaySocket, action: string, params: unknown) {
				return this.broker.call(action, params as object, {
					meta: { userId: socket.data.userId, sessionId: socket.data.sessionId, socketId: socket.id }
				});
			},

			async onConnected(this: SocketGatewayThis, socket: GatewaySocket) {
				const userId = socket.data.userId!;
				const sessionId = socket.data.sessionId!;
				socket.join(userRoom(userId));
				socket.on("disconnect", () => this.onDisconnected(socket));
				socket.onAny((event: string, ...args: unknown[]) => {
					// "call" has its own refusing handler (it replaces moleculer-io's).
					if (!CLIENT_EVENTS.has(event) && event !== "call") unknownEvent.apply(socket, args);
				});
				const sessionSockets = this.socketsBySession.get(sessionId) ?? new Set();
				this.socketsBySession.set(sessionId, sessionSockets.add(socket));
				const userSockets = this.socketsByUser.get(userId);
				if (userSockets) {
					userSockets.add(socket);
					return;
				}
				this.socketsByUser.set(userId, new Set([socket]));
				try {
					const { wasOnline } = await this.broker.call<{ wasOnline: boolean }, object>("repo.presence.connect", { userId, nodeId: this.broker.nodeID });
					if (!wasOnline) await this.broker.call("presence.announce", { userId, online: true });
				} catch (err) {
					this.logger.warn(`Presence of user ${userId} not recorded: ${(err as Error).message}`);
				}
			},

			async onDisconnected(this: SocketGatewayThis, socket: GatewaySocket) {
				const { userId, sessionId } = socket.data as SocketUser;
				const sessionSockets = this.socketsBySession.get(sessionId);
				sessionSockets?.delete(socket);
				if (sessionSockets?.size === 0) this.socketsBySession.delete(sessionId);
				const userSockets = this.socketsByUser.get(userId);
				userSockets?.delete(socket);
				if (!userSockets || userSockets.size > 0) return;
				this.socketsByUser.delete(userId);
				try {
					const { stillOnline } = await this.broker.call<{ stillOnline: boolean }, object>("repo.presence.disconnect", { userId, nodeId: this.broker.nodeID });
					if (!stillOnline) await this.broker.call("presence.announce", { userId, online: false });
				} catch (err) {
					this.logger.debug(`Presence of user ${userId} not cleared: ${(err as Error).message}`);
				}
			},

			/** Keeps this node's presence entries alive; a node that stops beating drops out after the TTL. */
			async heartbeat(this: SocketGatewayThis) {
				const userIds = [...this.socketsByUser.keys()];
				for (let i = 0; i < userIds.length; i += HEARTBEAT_CHUNK) {
					await this.broker.call("repo.presence.refresh", { nodeId: this.broker.nodeID, userIds: userIds.slice(i, i + HEARTBEAT_CHUNK) });
				}
			}
		},

		created(this: Service) {
			const self = this as SocketGatewayThis;
			self.socketsByUser = new Map();
			self.socketsBySession = new Map();
			self.pushesReceived = 0;
		},

		started(this: Service) {
			const self = this as SocketGatewayThis;
			self.io.of("/").on("connection", socket => self.onConnected(socket as GatewaySocket));
			const everyMs = Math.max(1000, (getConfig().presenceTtlSeconds * 1000) / 3);
			self.heartbeatTimer = setInterval(() => {
				self.heartbeat().catch(err => self.logger.warn(`Presence heartbeat failed: ${err.message}`));
			}, everyMs);
			self.heartbeatTimer.unref();
		},

		async stopped(this: Service) {
			const self = this as SocketGatewayThis;
			if (self.heartbeatTimer) clearInterval(self.heartbeatTimer);
			if (self.socketsByUser.size === 0) return;
			self.socketsByUser.clear();
			await self.broker.call("repo.presence.removeNode", { nodeId: self.broker.nodeID }).catch(() => undefined);
		}
	};
}
