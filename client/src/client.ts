import type { ClientError, ReadState, RegisterParams } from "../../lib/contracts/client";
import type { ClientMessageType, Group, GroupAddRefusal, Message, User } from "../../lib/types";
import { Api } from "./api";
import { Emitter } from "./emitter";
import { GoChatError } from "./errors";
import { Outbox } from "./outbox";
import { Connection, type SocketFactory } from "./realtime/connection";
import { askPresence, directPeer, PresenceBook } from "./realtime/presence";
import { Syncer } from "./realtime/sync";
import { Session } from "./session";
import { ChatStore } from "./store/chat-store";
import { ConversationList } from "./store/conversation-list";
import type { ChatMessage, ClientEvents, ClientOptions, ConnectionState, ConversationView, OutboxStore } from "./types";

/** Options the tests and embedders may tune beyond ClientOptions. */
export interface GoChatClientOptions extends ClientOptions {
	/** Resends after RATE_LIMITED / OVERLOADED before a message fails with that code; 3. */
	maxSendRetries?: number;
	/** How long a gap in seqs may stay open before a sync fills it; 2 s (pushes can arrive out of order). */
	gapSyncDelayMs?: number;
	/**
	 * Stored messages held per conversation; 1000. Past it the oldest are dropped (loadOlder brings
	 * them back), so a long-lived tab in the world room stays bounded.
	 */
	maxMessagesPerConversation?: number;
	/** Replaces socket.io-client's io() (unit tests). */
	socketFactory?: SocketFactory;
}

/** One notice per conversation this often at most (the server allows one a second). */
const TYPING_EVERY_MS = 3000;
/** Bounds loadConversations: 50 pages of 100 rows. */
const LIST_PAGES_MAX = 50;

interface Waiter {
	resolve(): void;
	reject(err: GoChatError): void;
}

/**
 * The GoChat SDK's entry point: sign-in (Session), typed REST (Api), and the realtime state of the
 * signed-in user (ChatStore): conversations, messages by seq, an outbox, read positions, typing
 * and presence. This class wires the socket, sync and outbox to the store.
 */
export class GoChatClient extends Emitter<ClientEvents> {
	readonly session: Session;
	readonly api: Api;
	private readonly connection: Connection;
	private readonly outbox: Outbox;
	private readonly syncer: Syncer;
	private readonly store: ChatStore;
	private readonly presence = new PresenceBook();
	private readonly typingAt = new Map<string, number>();
	private readonly gapSyncDelayMs: number;
	private state: ConnectionState = "disconnected";
	/** Connected and caught up once since: connect() answers at once. */
	private ready = false;
	private waiters: Waiter[] = [];
	private signedInAs: string | null = null;
	private gapTimer: ReturnType<typeof setTimeout> | null = null;
	/** Syncs waiting retryAfter: a disconnect wakes them, so no timer outlives the socket. */
	private readonly sleepers = new Map<ReturnType<typeof setTimeout>, () => void>();
	private listRefresh: Promise<void> | null = null;
	private readonly outboxStore: OutboxStore | undefined;

	constructor(options: GoChatClientOptions) {
		super();
		this.session = new Session(options);
		this.api = new Api(this.session);
		this.gapSyncDelayMs = options.gapSyncDelayMs ?? 2000;
		this.outboxStore = options.outboxStore;
		this.store = new ChatStore(
			{
				me: () => this.session.user?.id,
				settle: message => this.outbox.settle(message) !== undefined,
				emit: (event, payload) => this.emit(event, payload),
				unknown: () => this.refreshListSoon(),
				gap: () => this.watchGap()
			},
			options.maxMessagesPerConversation ?? 1000
		);
		this.connection = new Connection(
			{
				baseUrl: options.baseUrl.replace(/\/+$/, ""),
				transports: options.transports ?? ["websocket"],
				reconnectDelayMs: options.reconnectDelayMs ?? 500,
				reconnectDelayMaxMs: options.reconnectDelayMaxMs ?? 10_000,
				requestTimeoutMs: options.requestTimeoutMs ?? 10_000
			},
			this.session,
			{
				state: event => {
					this.state = event.state;
					this.emit("connection", event);
				},
				connected: () => this.onConnected(),
				interrupted: () => this.onInterrupted(),
				event: (name, payload) => this.onServerEvent(name, payload),
				fatal: (error, signOut) => this.onFatal(error, signOut)
			},
			options.socketFactory
		);
		this.outbox = new Outbox(
			{
				canSend: () => this.connection.canSend,
				send: params => this.connection.request("message:send", params)
			},
			{
				changed: message => this.store.showLocal(message, "updated"),
				sent: (pending, stored) => this.store.sent(pending, stored),
				listChanged: () => this.saveOutbox()
			},
			{ maxRetries: options.maxSendRetries }
		);
		this.syncer = new Syncer(
			{
				request: payload => this.connection.request("sync", payload),
				cursors: () => this.store.cursors(),
				apply: entry => this.store.applySynced(entry),
				sleep: ms => this.sleep(ms)
			},
			outcome => this.emit("synced", { conversations: outcome.conversations, messages: outcome.messages })
		);
		this.session.on("tokens", ({ accessToken, user }) => this.onTokens(accessToken, user));
		this.session.on("signedOut", ({ reason }) => {
			// Logging out takes the unsent messages with it; an expired or revoked session keeps them for the next sign-in.
			if (reason === "logout" && this.signedInAs) this.writeOutbox(this.signedInAs, []);
			this.connection.close();
			this.reset();
			this.signedInAs = null;
			this.emit("auth", { user: null, reason });
		});
	}

	// --- Accounts (Session) ---

	get user(): User | null {
		return this.session.user;
	}

	register(params: RegisterParams): Promise<User> {
		return this.session.register(params);
	}

	login(username: string, password: string): Promise<User> {
		return this.session.login(username, password);
	}

	guest(displayName?: string): Promise<User> {
		return this.session.guest(displayName);
	}

	restore(): Promise<User | null> {
		return this.session.restore();
	}

	/** Ends the session on the server; the store is cleared, the socket closed, and `auth` says so. */
	async logout(): Promise<void> {
		this.disconnect();
		// The unsent messages go with the session, at once: a late ack must not save them again.
		const leaving = this.signedInAs;
		this.outbox.clear();
		if (leaving) this.writeOutbox(leaving, []);
		await this.session.logout();
	}

	/** Closes the socket and stops every timer (the token refresh too): a Node process can exit. Tokens stay stored. */
	dispose(): void {
		this.disconnect();
		this.outbox.pause();
		this.session.dispose();
	}

	// --- Connection ---

	get connectionState(): ConnectionState {
		return this.state;
	}

	/**
	 * Opens the socket; resolves after the first connect and its sync. Rejects with a GoChatError
	 * when the handshake is refused for good (the session is over). While the server cannot be
	 * reached it keeps waiting: "connection" events tell the attempts.
	 */
	connect(): Promise<void> {
		if (!this.session.user) return Promise.reject(notSignedIn());
		if (this.ready) return Promise.resolve();
		return new Promise((resolve, reject) => {
			this.waiters.push({ resolve, reject });
			this.connection.open();
		});
	}

	/** Closes the socket; pending messages stay in the outbox and go out after the next connect(). */
	disconnect(): void {
		this.connection.close();
		this.stopTimers();
		this.settleWaiters(new GoChatError(0, "DISCONNECTED", "disconnect() was called before the connection was up"));
	}

	// --- Conversations ---

	/** Every conversation known here, newest activity first. */
	conversations(): ConversationView[] {
		return this.store.conversations();
	}

	/** Fetches the REST list (every page, bounded) and merges it: titles, read positions, empty conversations. */
	async loadConversations(): Promise<ConversationView[]> {
		const generation = this.store.generation;
		let cursor: string | undefined;
		for (let page = 0; page < LIST_PAGES_MAX; page++) {
			const reply = await this.api.conversations.list(
				cursor === undefined ? { limit: 100 } : { limit: 100, cursor }
			);
			if (generation !== this.store.generation) return this.conversations();
			for (const summary of reply.conversations) this.store.merge(summary);
			if (reply.nextCursor === null) break;
			cursor = reply.nextCursor;
		}
		if (this.state === "connected") this.askPresence(this.directPeers().filter(peer => !this.presence.has(peer)));
		return this.conversations();
	}

	async openDirect(userId: string): Promise<ConversationView> {
		const generation = this.store.generation;
		const { conversation } = await this.api.conversations.openDirect(userId);
		// Signed in as someone else meanwhile: answer without touching the new user's store.
		if (generation !== this.store.generation) return { ...new ConversationList().merge(conversation) };
		const row = this.store.merge(conversation);
		if (this.presence.get(userId) === undefined) this.askPresence([userId]);
		return { ...row };
	}

	async createGroup(
		name: string,
		memberIds: string[]
	): Promise<{ group: Group; conversation: ConversationView; refused: GroupAddRefusal[] }> {
		const generation = this.store.generation;
		const { group, refused } = await this.api.groups.create(name, memberIds);
		const conversation = {
			...(generation === this.store.generation
				? this.store.addGroup(group.conversationId, group.name, group.createdAt)
				: new ConversationList().name(group.conversationId, "group", group.name, group.createdAt))
		};
		return { group, conversation, refused };
	}

	async addMembers(groupId: string, userIds: string[]): Promise<{ added: string[]; refused: GroupAddRefusal[] }> {
		const { added, refused } = await this.api.groups.addMembers(groupId, userIds);
		return { added, refused };
	}

	// --- Messages ---

	/** Stored messages by seq, then pending and failed ones in send order. */
	messages(conversationId: string): ChatMessage[] {
		return this.store.messages(conversationId);
	}

	/** Whether older messages exist than the oldest held (seqs start at 1 with no gaps). */
	hasOlder(conversationId: string): boolean {
		return this.store.hasOlder(conversationId);
	}

	/** Loads a page of history before the oldest message held (REST). */
	async loadOlder(conversationId: string, limit = 50): Promise<{ added: number; hasMore: boolean }> {
		const generation = this.store.generation;
		const lowest = this.store.lowestSeq(conversationId);
		const page = await this.api.messages.history(
			conversationId,
			lowest > 0 ? { beforeSeq: lowest, limit } : { limit }
		);
		if (generation !== this.store.generation) return { added: 0, hasMore: page.hasMore };
		const added = this.store.addOlder(conversationId, page.messages);
		return { added, hasMore: this.hasOlder(conversationId) };
	}

	/**
	 * Sends a message: answers at once with the pending message. Server refusals never throw: the
	 * message turns failed with the error (see ChatMessage.status); "message" events tell each change.
	 */
	send(conversationId: string, content: string, type: ClientMessageType = "text"): ChatMessage {
		const user = this.session.user;
		if (!user) throw notSignedIn();
		const message = this.outbox.add(conversationId, user.id, content, type);
		const current = this.outbox.get(message.clientMsgId) ?? message;
		this.store.showLocal(current, "added");
		return current;
	}

	/** Puts a failed message back in the outbox; false when there is no such failed message. */
	retry(clientMsgId: string): boolean {
		return this.outbox.retry(clientMsgId);
	}

	/** Removes a failed message; false when there is no such failed message. */
	discard(clientMsgId: string): boolean {
		const message = this.outbox.discard(clientMsgId);
		if (!message) return false;
		this.store.removeLocal(message.conversationId, clientMsgId);
		return true;
	}

	// --- Reads, typing, presence ---

	/** Moves the read position (to the conversation's lastSeq by default): over the socket when up, else REST. */
	async markRead(conversationId: string, seq?: number): Promise<ReadState> {
		const generation = this.store.generation;
		const target = seq ?? this.store.row(conversationId)?.lastSeq ?? 0;
		let state: ReadState;
		if (this.connection.canSend) {
			const ack = await this.connection
				.request("conversation:read", { conversationId, seq: target })
				.catch(() => null);
			if (ack && !ack.ok) throw GoChatError.fromAck(ack.error);
			state = ack?.ok ? ack : await this.api.conversations.markRead(conversationId, target);
		} else {
			state = await this.api.conversations.markRead(conversationId, target);
		}
		if (generation === this.store.generation)
			this.store.movePositions(conversationId, state.lastSeq, state.readSeq);
		return state;
	}

	/** Tells the other members you are typing: at most once per 3 s per conversation, errors ignored. */
	typing(conversationId: string): void {
		// The world room never carries typing notices (docs/realtime.md#typing-client-event).
		if (conversationId === "world" || !this.connection.canSend) return;
		const now = Date.now();
		if (now - (this.typingAt.get(conversationId) ?? 0) < TYPING_EVERY_MS) return;
		this.typingAt.set(conversationId, now);
		this.connection.request("typing", { conversationId }).catch(() => undefined);
	}

	/** Whether a 1:1 peer is online: asked for after each connect, then kept by `presence` events; undefined before. */
	isOnline(userId: string): boolean | undefined {
		return this.presence.get(userId);
	}

	// --- Internals ---

	private onTokens(accessToken: string, user: User): void {
		const switched = this.signedInAs !== null && this.signedInAs !== user.id;
		// Another account on this client: the old user's socket must not feed the new user's store.
		const reopen = switched && this.connection.wanted;
		if (switched) {
			this.connection.close();
			this.reset();
		}
		this.connection.refreshToken(accessToken);
		if (this.signedInAs === user.id) return;
		this.signedInAs = user.id;
		this.emit("auth", { user });
		this.restoreOutbox(user.id);
		if (reopen) this.connection.open();
	}

	private onConnected(): void {
		this.outbox.reconnected();
		void this.syncer.request().then(() => {
			// A walk of an earlier socket may end while a new one is still on its way up.
			if (!this.connection.connected) return;
			this.ready = true;
			this.settleWaiters();
			this.askPresence(this.directPeers());
		});
	}

	private onInterrupted(): void {
		this.ready = false;
		this.outbox.interrupted();
	}

	/** The unsent messages saved for this user (an earlier page or process): shown, and sent once connected. */
	private restoreOutbox(userId: string): void {
		if (!this.outboxStore) return;
		let saved: ChatMessage[] = [];
		try {
			saved = this.outboxStore.load(userId);
		} catch {
			// An unreadable store (storage blocked, a broken file) holds nothing this client can send.
		}
		for (const message of this.outbox.restore(saved)) this.store.showLocal(message, "added");
	}

	private saveOutbox(): void {
		if (this.signedInAs) this.writeOutbox(this.signedInAs, this.outbox.list());
	}

	/** A store that cannot save (full, blocked) costs only the reload's copy: the messages are still sent. */
	private writeOutbox(userId: string, messages: ChatMessage[]): void {
		try {
			this.outboxStore?.save(userId, messages);
		} catch {
			// Nothing else to do: sending goes on from memory.
		}
	}

	/** The other users of the 1:1 conversations known here. */
	private directPeers(): string[] {
		const me = this.session.user?.id;
		if (!me) return [];
		const peers = this.store.conversations().map(row => directPeer(row.id, me));
		return peers.filter((peer): peer is string => peer !== null);
	}

	private askPresence(userIds: string[]): void {
		const generation = this.store.generation;
		void askPresence(
			this.presence,
			ids => this.api.presence.query(ids),
			userIds,
			change => this.emit("presence", change),
			() => generation !== this.store.generation
		);
	}

	private onFatal(error: ClientError, signOut: boolean): void {
		this.settleWaiters(GoChatError.fromAck(error, 401));
		if (signOut) this.session.end(error.code === "TOKEN_REVOKED" ? "revoked" : "expired");
	}

	private settleWaiters(error?: GoChatError): void {
		const waiters = this.waiters;
		this.waiters = [];
		for (const waiter of waiters) {
			if (error) waiter.reject(error);
			else waiter.resolve();
		}
	}

	private onServerEvent(name: string, payload: unknown): void {
		switch (name) {
			case "message:new":
				this.store.ingest((payload as { message: Message }).message);
				break;
			case "conversation:read": {
				const { conversationId, seq } = payload as { conversationId: string; seq: number };
				this.store.movePositions(conversationId, 0, seq);
				break;
			}
			case "typing":
				this.emit("typing", payload as ClientEvents["typing"]);
				break;
			case "presence": {
				const event = payload as ClientEvents["presence"];
				this.presence.apply(event.userId, event.online);
				this.emit("presence", event);
				break;
			}
			case "sync:required":
				// What may have been missed includes presence events: the dots are asked for again too.
				void this.syncer.request();
				this.askPresence(this.directPeers());
				break;
		}
	}

	/** A gap that stays open (pushes can come out of order) is filled by a sync. */
	private watchGap(): void {
		if (this.gapTimer !== null || !this.connection.connected) return;
		this.gapTimer = setTimeout(() => {
			this.gapTimer = null;
			if (this.connection.connected && this.store.hasGap()) void this.syncer.request();
		}, this.gapSyncDelayMs);
	}

	private sleep(ms: number): Promise<void> {
		return new Promise(resolve => {
			const timer = setTimeout(() => {
				this.sleepers.delete(timer);
				resolve();
			}, ms);
			this.sleepers.set(timer, resolve);
		});
	}

	/** No timer of the realtime side outlives the socket. */
	private stopTimers(): void {
		if (this.gapTimer !== null) clearTimeout(this.gapTimer);
		this.gapTimer = null;
		for (const [timer, wake] of this.sleepers) {
			clearTimeout(timer);
			wake();
		}
		this.sleepers.clear();
		this.outbox.pause();
	}

	/** A conversation seen before its summary: the REST list gives its title and read position. */
	private refreshListSoon(): void {
		if (this.listRefresh || !this.session.user) return;
		this.listRefresh = this.loadConversations()
			.then(
				() => undefined,
				() => undefined
			)
			.finally(() => {
				this.listRefresh = null;
			});
	}

	/** Another user signs in, or this one signed out: nothing of the old state may show. */
	private reset(): void {
		this.stopTimers();
		this.ready = false;
		this.outbox.clear();
		this.store.reset();
		this.presence.clear();
		this.typingAt.clear();
		this.listRefresh = null;
	}
}

function notSignedIn(): GoChatError {
	return new GoChatError(401, "UNAUTHORIZED", "Not signed in: log in, register or continue as a guest first");
}
