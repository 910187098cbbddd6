/** Shapes that cross service boundaries and reach clients. IDs are decimal strings, times ISO-8601 UTC. */

export interface User {
	id: string;
	username: string;
	displayName: string;
	avatarUrl: string | null;
	isGuest: boolean;
	createdAt: string;
}

/** Who may add a user to groups: anyone, only users they have a 1:1 conversation with, or nobody. */
export type GroupAddPolicy = "everyone" | "contacts" | "nobody";
export const GROUP_ADD_POLICIES: GroupAddPolicy[] = ["everyone", "contacts", "nobody"];

/** The caller's own profile: the public one plus the settings only its owner sees. */
export interface OwnProfile extends User {
	groupAddPolicy: GroupAddPolicy;
}

/** What clients may send. */
export type ClientMessageType = "text" | "image" | "file";
export const MESSAGE_TYPES: ClientMessageType[] = ["text", "image", "file"];
/** "system": said by an operator (sender "0"), stored and delivered like any other message. */
export type MessageType = ClientMessageType | "system";
export const SYSTEM_SENDER_ID = "0";

export interface Message {
	id: string;
	conversationId: string;
	senderId: string;
	type: MessageType;
	content: string;
	seq: number;
	clientMsgId: string;
	createdAt: string;
}

export type ConversationType = "direct" | "group" | "world";
export type MemberRole = "owner" | "admin" | "member";

export interface Conversation {
	id: string;
	type: ConversationType;
	groupId: string | null;
	lastSeq: number;
	lastMessageId: string | null;
	createdAt: string;
	updatedAt: string;
}

export interface Membership {
	conversationId: string;
	userId: string;
	role: MemberRole;
	readSeq: number;
	joinedAt: string;
}

/** One row of a user's conversation list. */
export interface ConversationSummary {
	id: string;
	type: ConversationType;
	title: string;
	lastMessage: Message | null;
	lastSeq: number;
	readSeq: number;
	unreadCount: number;
	updatedAt: string;
}

export interface Group {
	id: string;
	name: string;
	avatarUrl: string | null;
	ownerId: string;
	memberCount: number;
	conversationId: string;
	createdAt: string;
	updatedAt: string;
}

/** A user a create or add request did not add: they blocked the group, or their policy does not allow the adder. */
export interface GroupAddRefusal {
	userId: string;
	reason: "blocked" | "policy";
}

export interface GroupMember {
	userId: string;
	role: MemberRole;
	joinedAt: string;
	user: User | null;
}

export interface Session {
	id: string;
	userId: string;
	refreshHash: string;
	expiresAt: string;
	revokedAt: string | null;
}

/** What an authenticated call carries in ctx.meta; kept small on purpose. */
export interface AuthMeta {
	userId?: string;
	sessionId?: string;
	/** The client's address as the gateway sees it (see lib/client-address.ts): what per-address limits count. */
	clientAddress?: string;
}

export interface AuthResult {
	user: User;
	accessToken: string;
	refreshToken: string;
}
