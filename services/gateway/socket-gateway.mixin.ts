import type { Context, Service, ServiceBroker, ServiceSchema } from "moleculer";
import SocketIOService from "moleculer-io";
import type { ActionMap } from "../../lib/contracts";
import { clientAddress } from "../../lib/client-address";
import { GoChatError, toHttpError } from "../../lib/errors";
import { declaredFieldsOnly, ParamsSchema } from "../../lib/payload-shape";
import type { Push } from "../../lib/push-coalescer";
import { pushListRule } from "../logic/delivery.service";
import { CUT_OFF_SECONDS, GatewayLimits } from "./gateway-limits";
import { CLIENT_EVENTS, isClientEvent, tokenExpiresAt, unknownEvent } from "./socket-events";
import type { GatewaySocket, SocketGatewayThis, SocketUser, SyncReason } from "./socket-types";
import { brokerConfig } from "../../lib/config";
import type { ConfigThis } from "../../mixins/config.mixin";

export type { SocketGatewayThis, SyncReason } from "./socket-types";

type PresenceCheckpoint = ActionMap["repo.presence.checkpoint"]["result"];

const HEARTBEAT_CHUNK = 1000;
/** How often a gateway checks that presence still holds its entries (see repo.presence.checkpoint). */
const PRESENCE_CHECK_MS = 1000;
/** A wave of `sync:required` is spread over 1 ms per socket, at most this long, so syncs do not all land at once. */
const SYNC_SPREAD_MAX_MS = 5000;
/** Time a client has, after the transport opened, to complete the handshake (Socket.IO's default is 45 s). */
const CONNECT_TIMEOUT_MS = 10_000;
/** Services whose node, if it vanishes, may take pushes in flight to this gateway with it. */
const PUSHING_SERVICES = new Set(["delivery", "messages", "conversations", "presence", "task.fanout"]);
const userRoom = (userId: string) => `user:${userId}`;

/** The params an action declares, from the registry: remote actions carry their schema too. */
function declaredParams(broker: ServiceBroker, action: string): ParamsSchema | undefined {
	const registry = broker.registry as unknown as { getActionEndpoints(name: string): { endpoints: Array<{ action: { params?: ParamsSchema } }> } | undefined };
	return registry.getActionEndpoints(action)?.endpoints[0]?.action.params;
}

function joinIndex(index: Map<string, Set<GatewaySocket>>, key: string, socket: GatewaySocket) {
	const set = index.get(key) ?? new Set();
	index.set(key, set.add(socket));
}

function leaveIndex(index: Map<string, Set<GatewaySocket>>, key: string, socket: GatewaySocket) {
	const set = index.get(key);
	set?.delete(socket);
	if (set?.size === 0) index.delete(key);
}

/** A handshake refusal as Socket.IO sends it: `connect_error` with message "CODE: text" and data {code, message}. */
function refusal(err: unknown): Error {
	const { body } = toHttpError(err);
	const refused = new Error(`${body.error.code}: ${body.error.message}`) as Error & { data: unknown };
	refused.data = body.error;
	return refused;
}

/**
 * The gateway's realtime face (moleculer-io, Socket.IO 4) on the HTTP server's port: the token is
 * checked at the handshake (within the caps on sockets per user and per address) and the socket
 * ends when it expires unless `auth:refresh` brought a fresher one; client events are in
 * socket-events.ts. Each socket joins its user's room, the node reports its users to
 * presence (with a heartbeat), and `push` delivers events to the sockets this node holds.
 * When presence was lost or pushes to this node may have been, it writes its users again and
 * tells its sockets `sync:required`, once per incident.
 */
export function createSocketGatewayMixin(): Partial<ServiceSchema> {
	return {
		mixins: [SocketIOService as Partial<ServiceSchema>],

		settings: {
			io: {
				options: { serveClient: false, pingInterval: 25000, pingTimeout: 20000, maxHttpBufferSize: 1024 * 1024, connectTimeout: CONNECT_TIMEOUT_MS },
				namespaces: {
					"/": {
						authorization: true,
						// moleculer-io's generic "call" event would expose every published action.
						events: { call: unknownEvent, ...CLIENT_EVENTS }
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
			/**
			 * Handshake: `auth: {token}`, within the caps on open sockets per client address and per
			 * user; a refusal's message says what was wrong. The token's expiry is kept: the socket ends with it.
			 */
			async socketAuthorize(this: SocketGatewayThis, socket: GatewaySocket): Promise<SocketUser> {
				const token = (socket.handshake.auth as { token?: unknown })?.token;
				try {
					if (typeof token !== "string" || token === "") {
						throw new GoChatError("UNAUTHORIZED", "Connect with auth: {token: <accessToken>}");
					}
					const peer = { headers: socket.handshake.headers, socket: { remoteAddress: socket.handshake.address } };
					const address = clientAddress(peer as Parameters<typeof clientAddress>[0], this.config.trustProxyHops);
					this.limits.sockets.checkAddress(address);
					const claims = await this.broker.call<SocketUser, { token: string }>("auth.resolveToken", { token });
					this.limits.checkNotCutOff(claims.userId);
					const releaseSlot = this.limits.sockets.take(claims.userId, address);
					// A handshake dropped before it connected never disconnects: its transport closing hands the slot back.
					if (socket.conn.readyState === "closed") releaseSlot();
					else socket.conn.once("close", releaseSlot);
					socket.data.releaseSlot = releaseSlot;
					socket.data.userId = claims.userId;
					socket.data.sessionId = claims.sessionId;
					socket.data.expiresAt = tokenExpiresAt(token);
					return claims;
				} catch (err) {
					throw refusal(err);
				}
			},

			/** Calls `action` as the socket's user with only the fields the action declares. */
			async callAs(this: SocketGatewayThis, socket: GatewaySocket, action: string, params: Record<string, unknown>) {
				return this.broker.call(action, declaredFieldsOnly(params, declaredParams(this.broker, action)), {
					meta: { userId: socket.data.userId, sessionId: socket.data.sessionId, socketId: socket.id }
				});
			},

			/** After `auth:refresh` with a token of another login of the same user: that session's logout ends the socket. */
			moveToSession(this: SocketGatewayThis, socket: GatewaySocket, sessionId: string) {
				if (socket.data.sessionId === sessionId) return;
				leaveIndex(this.socketsBySession, socket.data.sessionId!, socket);
				joinIndex(this.socketsBySession, sessionId, socket);
				socket.data.sessionId = sessionId;
			},

			/** One timer per socket: when its token expires unrefreshed, the client is told why and disconnected. */
			watchExpiry(this: SocketGatewayThis, socket: GatewaySocket) {
				clearTimeout(socket.data.expiryTimer);
				const { expiresAt } = socket.data;
				if (expiresAt == null) return;
				socket.data.expiryTimer = setTimeout(() => {
					socket.emit("auth:expired", { code: "TOKEN_EXPIRED", message: "The access token has expired: refresh it, then connect again with the new one" });
					socket.disconnect(true);
				}, Math.max(0, expiresAt - Date.now()));
				socket.data.expiryTimer.unref();
			},

			/** A socket that keeps sending past its limits: told why, disconnected, its user kept out for a while. */
			cutOff(this: SocketGatewayThis, socket: GatewaySocket) {
				if (!socket.connected) return;
				this.limits.cutOff(socket.data.userId!);
				this.logger.warn(`Socket ${socket.id} of user ${socket.data.userId} ignored its rate limits and was cut off`);
				socket.emit("rate:exceeded", { code: "RATE_LIMITED", message: `Too many events refused; connect again in ${CUT_OFF_SECONDS} s and respect retryAfter` });
				socket.disconnect(true);
			},

			async onConnected(this: SocketGatewayThis, socket: GatewaySocket) {
				const userId = socket.data.userId!;
				const sessionId = socket.data.sessionId!;
				socket.join(userRoom(userId));
				socket.on("disconnect", () => this.onDisconnected(socket));
				socket.onAny((event: unknown, ...args: unknown[]) => {
					// "call" has its own refusing handler (it replaces moleculer-io's).
					if (event !== "call" && !isClientEvent(event)) void unknownEvent.apply(socket, args);
				});
				this.watchExpiry(socket);
				joinIndex(this.socketsBySession, sessionId, socket);
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
				clearTimeout(socket.data.expiryTimer);
				socket.data.releaseSlot?.();
				leaveIndex(this.socketsBySession, sessionId, socket);
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
			// Mixins are created before the config mixin of the service runs: read the broker directly.
			self.limits = new GatewayLimits(brokerConfig(this.broker));
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
			const everyMs = Math.max(1000, (this.config.presenceTtlSeconds * 1000) / 3);
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
			for (const set of self.socketsByUser.values()) {
				for (const socket of set) {
					clearTimeout(socket.data.syncTimer);
					clearTimeout(socket.data.expiryTimer);
				}
			}
			if (self.socketsByUser.size === 0) return;
			self.socketsByUser.clear();
			await self.broker.call("repo.presence.removeNode", { nodeId: self.broker.nodeID }).catch(() => undefined);
		}
	};
}
