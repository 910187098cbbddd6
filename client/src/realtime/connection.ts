import { io, type ManagerOptions, type Socket, type SocketOptions } from "socket.io-client";
import type { Ack, ClientError, SocketClientEvents, SocketServerEvents } from "../../../lib/contracts/client";
import type { ConnectionEvent } from "../types";

/** Where the socket gets its token: fresh on every attempt, and refreshed on demand. */
export interface TokenSource {
	accessToken(): Promise<string>;
	refreshNow(): Promise<unknown>;
}

export interface ConnectionHooks {
	state(event: ConnectionEvent): void;
	/** The socket is up (first time or again): sync and resend. */
	connected(): void;
	/** The socket went down: what was under way gets no ack. */
	interrupted(): void;
	/** A server event other than the ones the connection handles itself. */
	event<E extends keyof SocketServerEvents>(name: E, payload: SocketServerEvents[E]): void;
	/** Given up for good; `signOut` when the session is dead too (revoked, refused after a refresh). */
	fatal(error: ClientError, signOut: boolean): void;
}

export interface ConnectionOptions {
	baseUrl: string;
	transports: ("websocket" | "polling")[];
	reconnectDelayMs: number;
	reconnectDelayMaxMs: number;
	requestTimeoutMs: number;
}

export type SocketFactory = (url: string, options: Partial<ManagerOptions & SocketOptions>) => Socket;

/** Events handed on to the client as they come. */
const FORWARDED = ["message:new", "conversation:read", "typing", "presence", "sync:required"] as const;
/** Handshake refusals a token refresh may cure. */
const AUTH_REFUSALS = new Set(["TOKEN_EXPIRED", "TOKEN_REVOKED", "TOKEN_INVALID", "UNAUTHORIZED"]);

interface Backoff {
	attempts: number;
	duration(): number;
}

/**
 * The Socket.IO connection (docs/realtime.md "Connecting"): Socket.IO's own reconnection covers
 * dropped connections; refusals it treats as final (handshake refused, auth:expired, rate:exceeded,
 * a server disconnect) are handled here: refresh the token, wait retryAfter, or give up.
 */
export class Connection {
	private socket: Socket | null = null;
	/** The user wants a connection (connect() called, disconnect() not since). */
	private want = false;
	/** The token the last handshake carried, and the newest one the session handed over. */
	private handshakeToken: string | null = null;
	private latestToken: string | null = null;
	/** A server:shutdown came: nothing more is sent on this socket. */
	private draining = false;
	/** Why the server is about to disconnect us, from the event it sent first. */
	private cause: "expired" | "rate" | "revoked" | null = null;
	private causeRetryAfter = 10;
	/** Auth refusals in a row: a fresh token refused again means the session is dead. */
	private authRefusals = 0;
	private retryTimer: ReturnType<typeof setTimeout> | null = null;
	private retryAttempt = 0;
	private backoffWrapped = false;

	constructor(
		private readonly options: ConnectionOptions,
		private readonly tokens: TokenSource,
		private readonly hooks: ConnectionHooks,
		private readonly factory: SocketFactory = io
	) {}

	/** connect() was called and neither disconnect() nor a final refusal came since. */
	get wanted(): boolean {
		return this.want;
	}

	get connected(): boolean {
		return this.socket?.connected === true;
	}

	/** Connected, and the server did not announce its shutdown. */
	get canSend(): boolean {
		return this.connected && !this.draining;
	}

	open(): void {
		if (this.want && this.socket) return;
		this.want = true;
		this.hooks.state({ state: "connecting" });
		this.socketOf().connect();
	}

	close(): void {
		const wasWanted = this.want;
		this.want = false;
		this.clearRetry();
		this.socket?.disconnect();
		if (wasWanted) this.hooks.state({ state: "disconnected" });
	}

	/** A client event with its ack; rejects at once when the socket is down (nothing is buffered). */
	request<E extends keyof SocketClientEvents>(
		event: E,
		payload: SocketClientEvents[E]["payload"]
	): Promise<Ack<SocketClientEvents[E]["result"]>> {
		const socket = this.socket;
		if (!socket?.connected) return Promise.reject(new Error("not connected"));
		return socket.timeout(this.options.requestTimeoutMs).emitWithAck(event, payload);
	}

	/** Hands the live socket a fresher token (docs/realtime.md#authrefresh); a refusal changes nothing. */
	refreshToken(token: string): void {
		this.latestToken = token;
		if (this.connected) this.request("auth:refresh", { token }).catch(() => undefined);
	}

	private socketOf(): Socket {
		if (this.socket) return this.socket;
		const { baseUrl, transports, reconnectDelayMs, reconnectDelayMaxMs } = this.options;
		const socket = this.factory(baseUrl, {
			auth: cb => {
				this.tokens.accessToken().then(
					token => {
						this.handshakeToken = token;
						cb({ token });
					},
					() => cb({ token: "" })
				);
			},
			transports,
			autoConnect: false,
			forceNew: true,
			reconnection: true,
			reconnectionDelay: reconnectDelayMs,
			reconnectionDelayMax: reconnectDelayMaxMs,
			randomizationFactor: 0.5
		});
		this.socket = socket;
		this.watchBackoff(socket);
		socket.on("connect", () => this.onConnect());
		socket.on("disconnect", reason => this.onDisconnect(reason));
		socket.on("connect_error", err => this.onConnectError(err as Error & { data?: ClientError }));
		socket.on("server:shutdown", (_notice: unknown, ack?: () => void) => {
			this.draining = true;
			if (typeof ack === "function") ack();
		});
		socket.on("auth:expired", () => (this.cause = "expired"));
		socket.on("auth:revoked", () => (this.cause = "revoked"));
		socket.on("rate:exceeded", (payload: ClientError) => {
			this.cause = "rate";
			this.causeRetryAfter = retryAfterOf(payload) ?? 10;
		});
		for (const name of FORWARDED) {
			socket.on(name, (payload: unknown) => this.hooks.event(name, payload as never));
		}
		return socket;
	}

	private onConnect(): void {
		this.draining = false;
		this.cause = null;
		this.authRefusals = 0;
		this.retryAttempt = 0;
		// Tokens rotated while the handshake was on its way: without this the socket would end with the old one.
		if (this.latestToken !== null && this.latestToken !== this.handshakeToken) this.refreshToken(this.latestToken);
		this.hooks.state({ state: "connected" });
		this.hooks.connected();
	}

	private onDisconnect(reason: string): void {
		this.draining = false;
		this.hooks.interrupted();
		if (!this.want || reason === "io client disconnect") return;
		if (reason !== "io server disconnect") {
			// Socket.IO reconnects by itself; the backoff hook reports attempt and delay.
			if (!this.backoffWrapped) this.hooks.state({ state: "reconnecting" });
			return;
		}
		const cause = this.cause;
		this.cause = null;
		if (cause === "revoked") {
			this.fail({ code: "TOKEN_REVOKED", message: "Disconnected: the session was ended by an operator" }, true);
		} else if (cause === "rate") {
			this.retryIn(this.causeRetryAfter * 1000);
		} else {
			// auth:expired, or this session was logged out or revoked elsewhere: a refresh tells which.
			this.refreshAndConnect({ code: "TOKEN_EXPIRED", message: "The socket's token expired" });
		}
	}

	private onConnectError(err: Error & { data?: ClientError }): void {
		if (!this.want) return;
		// Still active: a network problem, and Socket.IO retries by itself.
		if (this.socket?.active) {
			if (!this.backoffWrapped) this.hooks.state({ state: "reconnecting" });
			return;
		}
		const error: ClientError = err.data?.code
			? err.data
			: { code: "NETWORK_ERROR", message: err.message || "The handshake failed" };
		if (AUTH_REFUSALS.has(error.code)) {
			this.refreshAndConnect(error);
		} else if (error.code === "RATE_LIMITED") {
			this.retryIn((retryAfterOf(error) ?? 10) * 1000);
		} else {
			this.retryIn(this.nextDelay());
		}
	}

	/** A token refresh, then a new attempt; a refused refresh or a fresh token refused again is final. */
	private refreshAndConnect(error: ClientError): void {
		if (this.authRefusals++ >= 2) {
			this.fail(error, true);
			return;
		}
		this.hooks.state({ state: "reconnecting", attempt: this.authRefusals, delayMs: 0 });
		this.tokens.refreshNow().then(
			() => {
				if (this.want) this.socket?.connect();
			},
			(refreshError: { code?: string; status?: number; message?: string }) => {
				if (!this.want) return;
				// Refused by the server (401): the session is over. Unreachable: try again later.
				if (refreshError?.status && refreshError.status >= 400 && refreshError.status < 500) {
					this.fail(error, true);
				} else {
					this.authRefusals--;
					this.retryIn(this.nextDelay());
				}
			}
		);
	}

	private retryIn(ms: number): void {
		this.clearRetry();
		this.hooks.state({ state: "reconnecting", attempt: ++this.retryAttempt, delayMs: ms });
		this.retryTimer = setTimeout(() => {
			this.retryTimer = null;
			if (this.want) this.socket?.connect();
		}, ms);
	}

	private clearRetry(): void {
		if (this.retryTimer !== null) clearTimeout(this.retryTimer);
		this.retryTimer = null;
	}

	private nextDelay(): number {
		const { reconnectDelayMs, reconnectDelayMaxMs } = this.options;
		const base = Math.min(reconnectDelayMaxMs, reconnectDelayMs * 2 ** Math.min(this.retryAttempt, 16));
		return Math.round(base * (0.5 + Math.random()));
	}

	private fail(error: ClientError, signOut: boolean): void {
		this.want = false;
		this.clearRetry();
		this.socket?.disconnect();
		this.hooks.state({ state: "disconnected", error });
		this.hooks.fatal(error, signOut);
	}

	/**
	 * Reports each of Socket.IO's own reconnect attempts with its delay: the manager draws the delay
	 * from its backoff right before it waits, and announces nothing until the attempt starts.
	 */
	private watchBackoff(socket: Socket): void {
		const backoff = (socket.io as unknown as { backoff?: Backoff }).backoff;
		if (!backoff || typeof backoff.duration !== "function") return;
		const duration = backoff.duration.bind(backoff);
		backoff.duration = () => {
			const delayMs = duration();
			if (this.want) this.hooks.state({ state: "reconnecting", attempt: backoff.attempts, delayMs });
			return delayMs;
		};
		this.backoffWrapped = true;
	}
}

function retryAfterOf(error: ClientError | undefined): number | undefined {
	const value = (error?.details as { retryAfter?: unknown } | undefined)?.retryAfter;
	return typeof value === "number" && value > 0 ? value : undefined;
}
