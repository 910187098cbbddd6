import type { Context, Service, ServiceBroker, ServiceSchema } from "moleculer";
import SocketIOService from "moleculer-io";
import { brokerConfig } from "../../lib/config";
import { callFrom, Params, serviceActions } from "../../lib/contracts";
import { GatewayStats, pushListRule } from "../../lib/contracts/gateway";
import type { PresenceCheckpoint } from "../../lib/contracts/logic";
import { clientAddress } from "../../lib/client-address";
import { GoChatError, toHttpError } from "../../lib/errors";
import { declaredFieldsOnly, ParamsSchema } from "../../lib/payload-shape";
import { NO_RETRY, NEVER_DROPPED } from "../../lib/resilience";
import { countPush, setSocketsConnected } from "../../lib/metrics";
import { CUT_OFF_SECONDS, GatewayLimits } from "./gateway-limits";
import { InFlightEvents } from "./in-flight";
import { CLIENT_EVENTS, DRAINING_REFUSAL, isClientEvent, tokenExpiresAt, unknownEvent } from "./socket-events";
import type { GatewaySocket, SocketGatewayThis, SocketUser, SyncReason } from "./socket-types";

export type { SocketGatewayThis, SyncReason } from "./socket-types";

const HEARTBEAT_CHUNK = 1000;
/** How often a gateway checks that presence still holds its entries (see presence.checkpoint). */
const PRESENCE_CHECK_MS = 1000;
/** A wave of `sync:required` is spread over 1 ms per socket, at most this long, so syncs do not all land at once. */
const SYNC_SPREAD_MAX_MS = 5000;
/** A draining gateway spreads its clients' reconnects over up to this long (`server:shutdown` reconnectInMs). */
const RECONNECT_SPREAD_MS = 1000;
/** How long a draining gateway waits for its clients to ack `server:shutdown` before it closes their sockets. */
const SHUTDOWN_ACK_WAIT_MS = 2000;
/** Time a client has, after the transport opened, to complete the handshake (Socket.IO's default is 45 s). */
const CONNECT_TIMEOUT_MS = 10_000;
/** Services whose node, if it vanishes, may take pushes in flight to this gateway with it. */
const PUSHING_SERVICES = new Set(["delivery", "messages", "conversations", "presence", "task.fanout"]);
const userRoom = (userId: string) => `user:${userId}`;

/** The params an action declares, from the registry: remote actions carry their schema too. */
function declaredParams(broker: ServiceBroker, action: string): ParamsSchema | undefined {
	const registry = broker.registry as unknown as {
		getActionEndpoints(name: string): { endpoints: Array<{ action: { params?: ParamsSchema } }> } | undefined;
	};
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
 * socket-events.ts. Each socket joins its user's room; the node reports facts to presence
 * (a user's first socket connected, their last one left, the users it holds, at every heartbeat)
 * and presence decides what follows; `push` delivers events to the sockets this node holds.
 * When presence lost its entries or pushes to this node may have been lost, it reports its users
 * again and tells its sockets `sync:required`, once per incident.
 */
export function createSocketGatewayMixin(): Partial<ServiceSchema> {
	return {
		mixins: [SocketIOService as Partial<ServiceSchema>],

		settings: {
			io: {
				options: {
					serveClient: false,
					pingInterval: 25000,
					pingTimeout: 20000,
					maxHttpBufferSize: 1024 * 1024,
					connectTimeout: CONNECT_TIMEOUT_MS
				},
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
			// moleculer-io publishes these; GoChat's clients must not reach them (its `call` event is replaced by unknownEvent).
			broadcast: { visibility: "private", retryPolicy: NO_RETRY },
			getClients: { visibility: "private" },
			call: { visibility: "private", retryPolicy: NO_RETRY },

			...serviceActions("api", {
				/** Emits each event to the sockets of its users (or to every socket) that this node holds. */
				push: {
					visibility: "public",
					retryPolicy: NO_RETRY,
					params: pushListRule,
					handler(this: SocketGatewayThis, ctx: Context<Params<"api.push">>): number {
						let reached = 0;
						for (const { userIds, event, payload, exceptSocketId, everyone } of ctx.params.pushes) {
							this.pushesReceived++;
							const here = everyone ? [] : userIds.filter(id => this.socketsByUser.has(id));
							if (!everyone && here.length === 0) continue;
							let target = everyone ? this.io.local : this.io.to(here.map(userRoom));
							if (exceptSocketId) target = target.except(exceptSocketId);
							target.emit(event, payload);
							const users = everyone ? this.socketsByUser.size : here.length;
							if (event === "message:new") countPush(this.broker, users);
							reached += users;
						}
						return reached;
					}
				},

				/** What this gateway node holds, for operators (gochat stats calls it on every gateway node). */
				stats: {
					visibility: "public",
					params: {},
					handler(this: SocketGatewayThis): GatewayStats {
						let sockets = 0;
						for (const set of this.socketsByUser.values()) sockets += set.size;
						const { nodeID } = this.broker;
						return {
							nodeId: nodeID,
							users: this.socketsByUser.size,
							sockets,
							pushesReceived: this.pushesReceived
						};
					}
				},

				/** For operators (gochat online): the user's sockets on this node. */
				userSockets: {
					visibility: "public",
					params: { userId: "string" },
					handler(this: SocketGatewayThis, ctx: Context<Params<"api.userSockets">>): number {
						return this.socketsByUser.get(ctx.params.userId)?.size ?? 0;
					}
				},

				/**
				 * An operator ends a user's sockets on this node, each told why (`auth:revoked`) first. The
				 * access token is not touched: gochat kick ends the user's sessions before, so none reconnects.
				 */
				disconnectUser: {
					visibility: "public",
					retryPolicy: NO_RETRY,
					params: { userId: "string", reason: "string" },
					handler(this: SocketGatewayThis, ctx: Context<Params<"api.disconnectUser">>): number {
						const sockets = [...(this.socketsByUser.get(ctx.params.userId) ?? [])];
						const message = `Disconnected: ${ctx.params.reason}`;
						for (const socket of sockets)
							this.endSocket(socket, "auth:revoked", { code: "TOKEN_REVOKED", message });
						return sockets.length;
					}
				}
			})
		},

		events: {
			/** Logging out ends the session's sockets too: their token was only checked at the handshake. */
			"session.revoked": {
				bulkhead: NEVER_DROPPED,
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
			"$node.disconnected"(
				this: SocketGatewayThis,
				ctx: Context<{ node: { id: string; services?: Array<{ name: string }> }; unexpected: boolean }>
			) {
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
					const peer = {
						headers: socket.handshake.headers,
						socket: { remoteAddress: socket.handshake.address }
					};
					const address = clientAddress(
						peer as Parameters<typeof clientAddress>[0],
						this.config.trustProxyHops
					);
					this.limits.sockets.checkAddress(address);
					const claims: SocketUser = await callFrom(this.broker, "auth.resolveToken", { token });
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
			async callAs(
				this: SocketGatewayThis,
				socket: GatewaySocket,
				action: string,
				params: Record<string, unknown>
			) {
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
				socket.data.expiryTimer = setTimeout(
					() => {
						const message = "The access token has expired: refresh it, then connect again with the new one";
						this.endSocket(socket, "auth:expired", { code: "TOKEN_EXPIRED", message });
					},
					Math.max(0, expiresAt - Date.now())
				);
				socket.data.expiryTimer.unref();
			},

			/** A socket that keeps sending past its limits: told why, disconnected, its user kept out for a while. */
			cutOff(this: SocketGatewayThis, socket: GatewaySocket) {
				if (!socket.connected) return;
				this.limits.cutOff(socket.data.userId!);
				this.logger.warn(
					`Socket ${socket.id} of user ${socket.data.userId} ignored its rate limits and was cut off`
				);
				const message = `Too many events refused; connect again in ${CUT_OFF_SECONDS} s and respect retryAfter`;
				this.endSocket(socket, "rate:exceeded", { code: "RATE_LIMITED", message });
			},

			/** Tells the client why its socket ends (Socket.IO delivers the event before the disconnect), then ends it. */
			endSocket(
				this: SocketGatewayThis,
				socket: GatewaySocket,
				event: string,
				why: { code: string; message: string }
			) {
				socket.emit(event, why);
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
				setSocketsConnected(this.broker, this.io.of("/").sockets.size);
				joinIndex(this.socketsBySession, sessionId, socket);
				const userSockets = this.socketsByUser.get(userId);
				if (userSockets) {
					userSockets.add(socket);
					return;
				}
				this.socketsByUser.set(userId, new Set([socket]));
				try {
					await callFrom(this.broker, "presence.connected", { userId, nodeId: this.broker.nodeID });
				} catch (err) {
					this.presenceFailed(`presence of user ${userId} not reported: ${(err as Error).message}`);
				}
			},

			/**
			 * Drain (docs/lifecycle.md#shutdown): every socket is told `server:shutdown`; once it acked
			 * (so whatever it sent before has arrived) or SHUTDOWN_ACK_WAIT_MS passed, and its events under
			 * way were answered (those still open at the deadline get a retryable SERVICE_UNAVAILABLE),
			 * the sockets and this node's presence are released. New events are refused meanwhile
			 * (socket-events.ts). Returns what did not finish in time.
			 */
			async drainSockets(this: SocketGatewayThis, deadline: number): Promise<string[]> {
				this.draining = true;
				const sockets = [...this.io.of("/").sockets.values()];
				this.logger.info(
					`Draining: telling ${sockets.length} socket(s) to reconnect elsewhere, ${this.inFlight.size} event(s) under way`
				);
				const ackWaitMs = Math.max(0, Math.min(SHUTDOWN_ACK_WAIT_MS, deadline - Date.now()));
				const spreadMs = Math.min(RECONNECT_SPREAD_MS, sockets.length);
				await Promise.all(
					sockets.map(
						socket =>
							new Promise<void>(resolve => {
								const reconnectInMs = Math.floor(Math.random() * spreadMs);
								// An old client does not ack: the wait ends, and so does the socket.
								socket
									.timeout(ackWaitMs)
									.emit("server:shutdown", { reason: "shutting-down", reconnectInMs }, () =>
										resolve()
									);
							})
					)
				);
				const pending: string[] = [];
				if (!(await this.inFlight.settled(deadline))) {
					pending.push(
						`socket events answered SERVICE_UNAVAILABLE at the deadline: ${this.inFlight.describe()}`
					);
					this.inFlight.answerAll({ ok: false, error: DRAINING_REFUSAL });
				}
				await this.releaseSockets();
				return pending;
			},

			/**
			 * Ends this node's presence and its sockets; runs once, before the HTTP server closes (the
			 * server waits for open connections, and a connected socket would hold it open). The
			 * transports are closed without a Socket.IO disconnect, so clients reconnect by themselves
			 * and, behind a load balancer, reach another gateway.
			 */
			async releaseSockets(this: SocketGatewayThis) {
				if (this.released) return;
				this.released = true;
				if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
				if (this.checkTimer) clearInterval(this.checkTimer);
				// A check still writing entries must not outlive the removal below.
				await this.presenceCheck;
				const hadUsers = this.socketsByUser.size > 0;
				for (const set of this.socketsByUser.values()) {
					for (const socket of set) {
						clearTimeout(socket.data.syncTimer);
						clearTimeout(socket.data.expiryTimer);
					}
				}
				// Cleared first, so the disconnects below report nothing one by one.
				this.socketsByUser.clear();
				if (hadUsers)
					await callFrom(this.broker, "presence.nodeStopped", { nodeId: this.broker.nodeID }).catch(
						() => undefined
					);
				// Queued packets (the last acks) are written before each transport closes.
				for (const socket of this.io?.of("/").sockets.values() ?? []) socket.conn.close();
				setSocketsConnected(this.broker, 0);
			},

			async onDisconnected(this: SocketGatewayThis, socket: GatewaySocket) {
				const { userId, sessionId } = socket.data as SocketUser;
				clearTimeout(socket.data.syncTimer);
				clearTimeout(socket.data.expiryTimer);
				socket.data.releaseSlot?.();
				setSocketsConnected(this.broker, this.io.of("/").sockets.size);
				leaveIndex(this.socketsBySession, sessionId, socket);
				const userSockets = this.socketsByUser.get(userId);
				userSockets?.delete(socket);
				if (!userSockets || userSockets.size > 0) return;
				this.socketsByUser.delete(userId);
				try {
					await callFrom(this.broker, "presence.disconnected", { userId, nodeId: this.broker.nodeID });
				} catch (err) {
					// Its entry expires with the TTL: the heartbeat no longer reports the user.
					this.logger.debug(`Presence of user ${userId} not cleared: ${(err as Error).message}`);
				}
			},

			/** Reports the users this node holds; a node that stops reporting drops out of presence after the TTL. */
			async heartbeat(this: SocketGatewayThis) {
				const userIds = [...this.socketsByUser.keys()];
				for (let i = 0; i < userIds.length; i += HEARTBEAT_CHUNK) {
					const chunk = userIds.slice(i, i + HEARTBEAT_CHUNK);
					await callFrom(this.broker, "presence.heartbeat", {
						nodeId: this.broker.nodeID,
						userIds: chunk
					});
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
			 * Checkpoint; when presence lost this node's entries, or a report failed since, reports every
			 * user again (a heartbeat), then sends the pending `sync:required`. A check that fails leaves
			 * both for a later one: sockets are told once, when pushes can reach them again.
			 */
			async runPresenceCheck(this: SocketGatewayThis) {
				let found: PresenceCheckpoint;
				try {
					const mark = this.presenceMark ?? "";
					found = await callFrom(this.broker, "presence.checkpoint", {
						nodeId: this.broker.nodeID,
						mark
					});
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
						this.presenceFailed(`presence not reported again: ${(err as Error).message}`);
						return;
					}
					this.presenceSuspect = false;
					if (!firstCheck)
						this.logger.info(`Presence reported again for ${this.socketsByUser.size} user(s) of this node`);
				}
				if (this.pendingSync) {
					this.askToSync(this.pendingSync);
					this.pendingSync = null;
				}
			},

			presenceFailed(this: SocketGatewayThis, why: string) {
				if (!this.presenceSuspect) {
					this.logger.warn(
						`Presence of this node may be incomplete (${why}); it is reported again once presence answers`
					);
				}
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
					socket.data.syncTimer = setTimeout(
						() => {
							socket.data.syncTimer = undefined;
							socket.emit("sync:required", { reason });
						},
						Math.floor(Math.random() * spreadMs)
					);
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
			self.inFlight = new InFlightEvents();
			self.draining = false;
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
			await (this as SocketGatewayThis).releaseSockets();
		}
	};
}
