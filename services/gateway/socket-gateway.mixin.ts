import type { Context, Service, ServiceSchema } from "moleculer";
import SocketIOService from "moleculer-io";
import type { Server, Socket } from "socket.io";
import type { ActionMap } from "../../lib/actions";
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
	/** A `sync:required` waiting for its turn in a spread-out wave. */
	syncTimer?: NodeJS.Timeout;
}

/** Why a gateway tells its sockets to `sync`: it may have missed pushes for them. */
export type SyncReason = "presence-lost" | "transporter-reconnected" | "node-lost";

type PresenceCheckpoint = ActionMap["repo.presence.checkpoint"]["result"];
type GatewaySocket = Socket & { $service: SocketGatewayThis; data: SocketData };
type Ack = (reply: unknown) => void;

export interface SocketGatewayThis extends Service {
	io: Server;
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
	onConnected(socket: GatewaySocket): Promise<void>;
	onDisconnected(socket: GatewaySocket): Promise<void>;
	heartbeat(): Promise<void>;
	checkPresence(): Promise<void>;
	runPresenceCheck(): Promise<void>;
	presenceFailed(why: string): void;
	askToSync(reason: SyncReason): void;
	callAs(socket: GatewaySocket, action: string, params: unknown): Promise<any>;
}

/** A client may send one typing notice per conversation this often; faster ones are dropped. */
export const TYPING_INTERVAL_MS = 1000;
const HEARTBEAT_CHUNK = 1000;
/** How often a gateway checks that presence still holds its entries (see repo.presence.checkpoint). */
const PRESENCE_CHECK_MS = 1000;
/** A wave of `sync:required` is spread over 1 ms per socket, at most this long, so syncs do not all land at once. */
const SYNC_SPREAD_MAX_MS = 5000;
/** Services whose node, if it vanishes, may take pushes in flight to this gateway with it. */
const PUSHING_SERVICES = new Set(["delivery", "messages", "conversations", "presence", "task.fanout"]);
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
 * When presence was lost or pushes to this node may have been, it writes its users again and
 * tells its sockets `sync:required`, once per incident.
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
			},

			/** Pushes sent while the transporter was down are lost, and other nodes may have given this one up. */
			"$transporter.connected"(this: SocketGatewayThis, ctx: Context<{ wasReconnect: boolean }>) {
				if (!ctx.params.wasReconnect) return;
				this.presenceFailed("the transporter reconnected");
				this.pendingSync ??= "transporter-reconnected";
				void this.checkPresence();
			},

			/** A graceful stop finishes its work first (tracking); a node that vanished may have had pushes in flight. */
			"$node.disconnected"(this: SocketGatewayThis, ctx: Context<{ node: { id: string; services?: Array<{ name: string }> }; unexpected: boolean }>) {
				const { node, unexpected } = ctx.params;
				if (!unexpected || !node.services?.some(service => PUSHING_SERVICES.has(service.name))) return;
				this.pendingSync ??= "node-lost";
				void this.checkPresence();
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
				let wasOnline: boolean;
				try {
					({ wasOnline } = await this.broker.call<{ wasOnline: boolean }, object>("repo.presence.connect", { userId, nodeId: this.broker.nodeID }));
				} catch (err) {
					this.presenceFailed(`presence of user ${userId} not recorded: ${(err as Error).message}`);
					return;
				}
				try {
					if (!wasOnline) await this.broker.call("presence.announce", { userId, online: true });
				} catch (err) {
					this.logger.warn(`Presence of user ${userId} not announced: ${(err as Error).message}`);
				}
			},

			async onDisconnected(this: SocketGatewayThis, socket: GatewaySocket) {
				const { userId, sessionId } = socket.data as SocketUser;
				clearTimeout(socket.data.syncTimer);
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
			},

			/** One check at a time: a check asked for while one runs joins it. */
			checkPresence(this: SocketGatewayThis): Promise<void> {
				this.presenceCheck ??= this.runPresenceCheck().finally(() => {
					this.presenceCheck = null;
				});
				return this.presenceCheck;
			},

			/**
			 * Checkpoint; when presence is not intact, or a write failed since, writes every user again
			 * (the heartbeat's writes), then sends the pending `sync:required`. A check that fails leaves
			 * both for a later one: sockets are told once, when pushes can reach them again.
			 */
			async runPresenceCheck(this: SocketGatewayThis) {
				let found: PresenceCheckpoint;
				try {
					found = await this.broker.call<PresenceCheckpoint, object>("repo.presence.checkpoint", { nodeId: this.broker.nodeID, mark: this.presenceMark ?? "" });
				} catch (err) {
					this.presenceFailed(`presence check failed: ${(err as Error).message}`);
					return;
				}
				// The first check of a node finds no mark; its sockets synced when they connected.
				const firstCheck = this.presenceMark === null;
				this.presenceMark = found.mark;
				if (!found.intact || this.presenceSuspect) {
					if (!firstCheck || this.presenceSuspect) this.pendingSync ??= "presence-lost";
					try {
						await this.heartbeat();
					} catch (err) {
						this.presenceFailed(`presence not written again: ${(err as Error).message}`);
						return;
					}
					this.presenceSuspect = false;
					if (!firstCheck) this.logger.info(`Presence written again for ${this.socketsByUser.size} user(s) of this node`);
				}
				if (this.pendingSync) {
					this.askToSync(this.pendingSync);
					this.pendingSync = null;
				}
			},

			presenceFailed(this: SocketGatewayThis, why: string) {
				if (!this.presenceSuspect) this.logger.warn(`Presence of this node may be incomplete (${why}); it is written again once the store answers`);
				this.presenceSuspect = true;
			},

			/** Emits `sync:required` to every socket of this node, each after a random part of the spread. */
			askToSync(this: SocketGatewayThis, reason: SyncReason) {
				const sockets = [...this.socketsByUser.values()].flatMap(set => [...set]);
				if (sockets.length === 0) return;
				const spreadMs = Math.min(SYNC_SPREAD_MAX_MS, sockets.length);
				this.logger.info(`Asking ${sockets.length} socket(s) to sync: ${reason}`);
				for (const socket of sockets) {
					// A socket still waiting for the last wave's event will sync after this incident too.
					if (socket.data.syncTimer) continue;
					socket.data.syncTimer = setTimeout(() => {
						socket.data.syncTimer = undefined;
						socket.emit("sync:required", { reason });
					}, Math.floor(Math.random() * spreadMs));
					socket.data.syncTimer.unref();
				}
			}
		},

		created(this: Service) {
			const self = this as SocketGatewayThis;
			self.socketsByUser = new Map();
			self.socketsBySession = new Map();
			self.pushesReceived = 0;
			self.presenceMark = null;
			self.presenceSuspect = false;
			self.pendingSync = null;
			self.presenceCheck = null;
		},

		started(this: Service) {
			const self = this as SocketGatewayThis;
			self.io.of("/").on("connection", socket => self.onConnected(socket as GatewaySocket));
			const everyMs = Math.max(1000, (getConfig().presenceTtlSeconds * 1000) / 3);
			self.heartbeatTimer = setInterval(() => {
				self.heartbeat().catch(err => self.presenceFailed(`heartbeat failed: ${err.message}`));
			}, everyMs);
			self.heartbeatTimer.unref();
			self.checkTimer = setInterval(() => void self.checkPresence(), PRESENCE_CHECK_MS);
			self.checkTimer.unref();
		},

		async stopped(this: Service) {
			const self = this as SocketGatewayThis;
			if (self.heartbeatTimer) clearInterval(self.heartbeatTimer);
			if (self.checkTimer) clearInterval(self.checkTimer);
			// A check still writing entries must not outlive the removal below.
			await self.presenceCheck;
			for (const set of self.socketsByUser.values()) for (const socket of set) clearTimeout(socket.data.syncTimer);
			if (self.socketsByUser.size === 0) return;
			self.socketsByUser.clear();
			await self.broker.call("repo.presence.removeNode", { nodeId: self.broker.nodeID }).catch(() => undefined);
		}
	};
}
