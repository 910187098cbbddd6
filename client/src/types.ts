import type { ClientError } from "../../lib/contracts/client";
import type { ConversationType, MessageType, User } from "../../lib/types";

/** The shapes the server sends, as the services define them. */
export type * from "../../lib/types";
export type * from "../../lib/contracts/client";

/**
 * Where a message stands on this client:
 * - `pending`: in the outbox, not acknowledged yet (it is sent, and resent after reconnects);
 * - `sent`: stored by the server (it has an id and a seq);
 * - `failed`: refused for good (403, 413, …) or given up (`RATE_LIMITED`, `OVERLOADED` after retries):
 *   `error` says why; `retry()` puts it back in the outbox.
 */
export type MessageStatus = "pending" | "sent" | "failed";

/** A message as the SDK holds it: stored, or still in the outbox. */
export interface ChatMessage {
	/** The server's id once stored; null while pending or failed. */
	id: string | null;
	conversationId: string;
	senderId: string;
	type: MessageType;
	content: string;
	/** The conversation's sequence number once stored; null while pending or failed. */
	seq: number | null;
	/** Chosen by the client; a resend with the same one never stores a second copy. */
	clientMsgId: string;
	createdAt: string;
	status: MessageStatus;
	/** Why a failed message failed (the server's error code and message). */
	error?: ClientError;
}

/** One row of the conversation list, kept up to date from pushes, syncs and reads. */
export interface ConversationView {
	id: string;
	type: ConversationType;
	title: string;
	lastMessage: ChatMessage | null;
	lastSeq: number;
	readSeq: number;
	unreadCount: number;
	updatedAt: string;
}

/**
 * - `connecting`: the first attempt;
 * - `connected`: the socket is up (a `sync` follows at once);
 * - `reconnecting`: the socket dropped and is being re-opened with backoff (`attempt`, `delayMs`);
 * - `disconnected`: closed on purpose (disconnect(), logout) or for good (`auth:revoked`, a refused
 *   refresh): `error` says why when it was not asked for.
 */
export type ConnectionState = "connecting" | "connected" | "reconnecting" | "disconnected";

export interface ConnectionEvent {
	state: ConnectionState;
	attempt?: number;
	delayMs?: number;
	error?: ClientError;
}

/** What a GoChatClient emits (client.on(event, listener)). */
export interface ClientEvents {
	/** A message was added to a conversation, or its state changed (pending → sent or failed). */
	message: { conversationId: string; message: ChatMessage; change: "added" | "updated" };
	/** A message left the client's store: a failed one was discarded. */
	"message:removed": { conversationId: string; clientMsgId: string };
	/** The read position of a conversation moved (here, on another device, or by sending). */
	read: { conversationId: string; readSeq: number; unreadCount: number };
	typing: { conversationId: string; userId: string };
	presence: { userId: string; online: boolean };
	connection: ConnectionEvent;
	/** The conversation list changed: a row was added, or its last message or unread count moved. */
	conversations: { conversations: ConversationView[] };
	/** Every conversation is caught up after a (re)connect or a `sync:required`. */
	synced: { conversations: number; messages: number };
	/** Signed in (user set), or signed out (user null) with the reason. */
	auth: { user: User | null; reason?: "logout" | "revoked" | "expired" };
}

/** Saves the tokens across page loads or restarts (see token-store.ts for memory and Web Storage). */
export interface TokenStore {
	load(): StoredTokens | null | Promise<StoredTokens | null>;
	save(tokens: StoredTokens): void | Promise<void>;
	clear(): void | Promise<void>;
}

/**
 * Saves a user's unsent messages (pending and failed), so they survive a reload or a restart and
 * are sent then (see outbox-store.ts for Web Storage). Not given: they live in memory only.
 */
export interface OutboxStore {
	load(userId: string): ChatMessage[];
	save(userId: string, messages: ChatMessage[]): void;
}

export interface StoredTokens {
	accessToken: string;
	refreshToken: string;
	user: User;
}

export interface ClientOptions {
	/** The gateway's base URL, without /api/v1: "https://chat.example.com" or "http://localhost:3000". */
	baseUrl: string;
	/** Where tokens are kept; in memory when not given. */
	tokenStore?: TokenStore;
	/** Where unsent messages are kept across reloads; in memory only when not given. */
	outboxStore?: OutboxStore;
	/** The fetch to use (Node 18+ and browsers have one). */
	fetch?: typeof fetch;
	/** Socket.IO transports; ["websocket"] by default (works behind load balancers without sticky sessions). */
	transports?: ("websocket" | "polling")[];
	/** How long a REST request or a socket ack may take before it counts as lost; 10 s. */
	requestTimeoutMs?: number;
	/** Reconnect backoff: first delay and cap; 500 ms and 10 s, with jitter. */
	reconnectDelayMs?: number;
	reconnectDelayMaxMs?: number;
	/** Refresh the access token this long before it expires; 60 s (or a third of its lifetime if shorter). */
	refreshBeforeExpiryMs?: number;
}
