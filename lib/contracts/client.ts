import type {
	AuthResult,
	ClientMessageType,
	ConversationSummary,
	Group,
	GroupAddPolicy,
	GroupAddRefusal,
	GroupMember,
	Membership,
	MemberRole,
	Message,
	OwnProfile,
	User
} from "../types";

/**
 * What clients see: every REST route with its params and result, and every Socket.IO event.
 * The gateway serves exactly REST_ROUTES, logic's contracts extend RestActions, and the SDK
 * (client/) and the OpenAPI document are built from this file. It imports nothing but ../types,
 * so the SDK can ship it.
 */

export interface RegisterParams {
	username: string;
	password: string;
	displayName?: string;
}

export interface LoginParams {
	username: string;
	password: string;
}

export interface UpdateMeParams {
	displayName?: string;
	avatarUrl?: string | null;
	groupAddPolicy?: GroupAddPolicy;
}

export interface SendParams {
	conversationId: string;
	clientMsgId: string;
	type: ClientMessageType;
	content: string;
}

export interface HistoryParams {
	conversationId: string;
	beforeSeq?: number;
	afterSeq?: number;
	limit?: number;
}

export interface MessagePage {
	messages: Message[];
	hasMore: boolean;
}

export interface SyncParams {
	since?: Record<string, number>;
	cursor?: string;
}

/** One conversation of a sync answer: its read state and the messages after the client's seq. */
export interface SyncedConversation extends MessagePage {
	conversationId: string;
	lastSeq: number;
	readSeq: number;
	unreadCount: number;
}

export interface SyncReply {
	conversations: SyncedConversation[];
	nextCursor: string | null;
}

/** Whether a user is online; null for users you have no 1:1 conversation with (their presence is not yours to see). */
export interface PresenceState {
	userId: string;
	online: boolean | null;
}

/** How many users one presence query may name. */
export const PRESENCE_QUERY_MAX_USERS = 100;

export interface ReadState {
	conversationId: string;
	readSeq: number;
	lastSeq: number;
	unreadCount: number;
}

type NoParams = Record<string, never>;

/** The actions behind the REST routes, with the params each takes and what it answers. */
export interface RestActions {
	"auth.register": { params: RegisterParams; result: AuthResult };
	"auth.login": { params: LoginParams; result: AuthResult };
	"auth.guest": { params: { displayName?: string }; result: AuthResult };
	"auth.refresh": { params: { refreshToken: string }; result: AuthResult };
	"auth.logout": { params: NoParams; result: { ok: true } };

	"users.me": { params: NoParams; result: { user: OwnProfile } };
	"users.updateMe": { params: UpdateMeParams; result: { user: OwnProfile } };
	"users.get": { params: { id: string }; result: { user: User } };
	"users.search": { params: { q: string; limit?: number }; result: { users: User[] } };

	"conversations.openDirect": {
		params: { userId: string };
		result: { conversation: ConversationSummary; created: boolean };
	};
	"conversations.list": {
		params: { limit?: number; cursor?: string };
		result: { conversations: ConversationSummary[]; nextCursor: string | null };
	};
	"conversations.markRead": { params: { conversationId: string; seq: number }; result: ReadState };

	"messages.send": { params: SendParams; result: { message: Message } };
	"messages.history": { params: HistoryParams; result: MessagePage };

	/** `userIds`: comma-separated, at most PRESENCE_QUERY_MAX_USERS. */
	"presence.query": { params: { userIds: string }; result: { presence: PresenceState[] } };

	"groups.create": {
		params: { name: string; memberIds?: string[] };
		result: { group: Group; refused: GroupAddRefusal[] };
	};
	"groups.get": { params: { id: string }; result: { group: Group } };
	"groups.members": {
		params: { id: string; limit?: number; after?: string };
		result: { members: GroupMember[]; nextCursor: string | null };
	};
	"groups.addMembers": {
		params: { id: string; userIds: string[] };
		result: { group: Group; added: string[]; refused: GroupAddRefusal[] };
	};
	"groups.removeMember": { params: { id: string; userId: string }; result: { group: Group } };
	"groups.leave": { params: { id: string }; result: { group: Group } };
	"groups.block": { params: { id: string }; result: { groupId: string; blocked: true; left: boolean } };
	"groups.unblock": { params: { id: string }; result: { groupId: string; blocked: false } };
	"groups.setRole": {
		params: { id: string; userId: string; role: Exclude<MemberRole, "owner"> };
		result: { member: Membership };
	};
}

export type RestAction = keyof RestActions;

export interface RestRoute {
	method: "GET" | "POST" | "PATCH" | "DELETE";
	/** Under REST_BASE_PATH; `:name` segments are params of the action. */
	path: string;
	/** Public routes need no Authorization header. */
	public: boolean;
}

export const REST_BASE_PATH = "/api/v1";

/** Every REST route the gateway serves: one per action. */
export const REST_ROUTES: { readonly [A in RestAction]: RestRoute } = {
	"auth.register": { method: "POST", path: "/auth/register", public: true },
	"auth.login": { method: "POST", path: "/auth/login", public: true },
	"auth.guest": { method: "POST", path: "/auth/guest", public: true },
	"auth.refresh": { method: "POST", path: "/auth/refresh", public: true },
	"auth.logout": { method: "POST", path: "/auth/logout", public: false },
	"users.me": { method: "GET", path: "/users/me", public: false },
	"users.updateMe": { method: "PATCH", path: "/users/me", public: false },
	"users.get": { method: "GET", path: "/users/:id", public: false },
	"users.search": { method: "GET", path: "/users", public: false },
	"conversations.openDirect": { method: "POST", path: "/conversations/direct", public: false },
	"conversations.list": { method: "GET", path: "/conversations", public: false },
	"messages.history": { method: "GET", path: "/conversations/:conversationId/messages", public: false },
	"messages.send": { method: "POST", path: "/conversations/:conversationId/messages", public: false },
	"conversations.markRead": { method: "POST", path: "/conversations/:conversationId/read", public: false },
	"presence.query": { method: "GET", path: "/presence", public: false },
	"groups.create": { method: "POST", path: "/groups", public: false },
	"groups.get": { method: "GET", path: "/groups/:id", public: false },
	"groups.members": { method: "GET", path: "/groups/:id/members", public: false },
	"groups.addMembers": { method: "POST", path: "/groups/:id/members", public: false },
	"groups.removeMember": { method: "DELETE", path: "/groups/:id/members/:userId", public: false },
	"groups.setRole": { method: "PATCH", path: "/groups/:id/members/:userId", public: false },
	"groups.leave": { method: "POST", path: "/groups/:id/leave", public: false },
	"groups.block": { method: "POST", path: "/groups/:id/block", public: false },
	"groups.unblock": { method: "DELETE", path: "/groups/:id/block", public: false }
};

/** A client event's ack: the result with ok: true, or the error (same codes as REST). */
export type Ack<R> = ({ ok: true } & R) | { ok: false; error: ClientError };

export interface ClientError {
	code: string;
	message: string;
	details?: unknown;
}

/** Events a client sends (docs/realtime.md#client-events): payload and the ack's result. */
export interface SocketClientEvents {
	"message:send": { payload: SendParams; result: { message: Message } };
	"conversation:read": { payload: { conversationId: string; seq: number }; result: ReadState };
	typing: { payload: { conversationId: string }; result: { notified: number } };
	sync: { payload: SyncParams; result: SyncReply };
	"auth:refresh": { payload: { token: string }; result: { expiresAt: string | null } };
}

/** Why a gateway asks its sockets to sync (docs/realtime.md#syncrequired); more may come. */
export type SyncRequiredReason = "presence-lost" | "transporter-reconnected" | "node-lost" | (string & {});

/** Events the server sends (docs/realtime.md#server-events) and their payloads. */
export interface SocketServerEvents {
	"message:new": { message: Message };
	"conversation:read": { conversationId: string; seq: number };
	typing: { conversationId: string; userId: string };
	presence: { userId: string; online: boolean };
	"sync:required": { reason: SyncRequiredReason };
	/** Carries an ack: call it once the client stopped sending on this socket. */
	"server:shutdown": { reason: "shutting-down"; reconnectInMs: number };
	"auth:expired": ClientError;
	"auth:revoked": ClientError;
	"rate:exceeded": ClientError;
}
