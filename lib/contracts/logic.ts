import type { AccessClaims } from "../auth-rules";
import type { DeliveryReport, Push } from "../push-coalescer";
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
import type { FanoutJob } from "./channels";
import type { MessagePage } from "./repo";

/** Counters of one logic node since it started, for operators (gochat stats). */
export interface SendStats {
	nodeId: string;
	accepted: number;
	refused: number;
	/** Per second over the last few seconds. */
	acceptedPerSecond: number;
	refusedPerSecond: number;
}

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

export interface ReadState {
	conversationId: string;
	readSeq: number;
	lastSeq: number;
	unreadCount: number;
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
 * Contracts of the logic role. Actions the gateway reaches through REST aliases and socket events
 * belong here too, so a handler that drifts from what the gateway sends fails tsc.
 */
export interface LogicActions {
	"auth.register": { params: RegisterParams; result: AuthResult };
	"auth.login": { params: LoginParams; result: AuthResult };
	"auth.guest": { params: { displayName?: string }; result: AuthResult };
	"auth.refresh": { params: { refreshToken: string }; result: AuthResult };
	"auth.logout": { params: NoParams; result: { ok: true } };
	"auth.resolveToken": { params: { token: string }; result: AccessClaims };

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
	"conversations.typing": { params: { conversationId: string }; result: { notified: number } };

	"messages.send": { params: SendParams; result: { message: Message } };
	"messages.history": { params: HistoryParams; result: MessagePage };
	"messages.sync": { params: SyncParams; result: SyncReply };
	/** Private: the work of one sync answer, behind the bulkhead of sync. */
	"messages.buildSync": { params: SyncParams; result: SyncReply };
	"messages.stats": { params: NoParams; result: SendStats };
	/** A system message from an operator, stored and delivered like any other. */
	"messages.say": { params: { conversationId: string; text: string }; result: Message };

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
