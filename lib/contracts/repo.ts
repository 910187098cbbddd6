import type { AppendResult, NewMessage } from "../db/message-writer";
import type { MessagePage } from "./client";
import type {
	Conversation,
	Group,
	GroupAddPolicy,
	GroupAddRefusal,
	Membership,
	MemberRole,
	Message,
	OwnProfile,
	Session,
	User
} from "../types";

/** Contracts of the repo role: every table has one owning service, and only it writes the table. */

export interface DatabaseStatus {
	reachable: boolean;
	migrated: boolean;
	pending: string[];
	dialect: string;
}

export interface CreateUserParams {
	id: string;
	username: string;
	usernameKey: string;
	passwordHash: string | null;
	displayName: string;
	isGuest: boolean;
}

export interface Credentials {
	user: User;
	passwordHash: string | null;
}

export interface UpdateUserParams {
	id: string;
	displayName?: string;
	avatarUrl?: string | null;
	groupAddPolicy?: GroupAddPolicy;
}

export interface CreateSessionParams {
	id: string;
	userId: string;
	refreshHash: string;
	expiresAt: string;
}

export interface RotateSessionParams {
	id: string;
	currentHash: string;
	nextHash: string;
	expiresAt: string;
}

export interface ConversationWithMembership {
	conversation: Conversation;
	membership: Membership;
}

export interface ListForUserParams {
	userId: string;
	/** Where the previous page ended: its last conversation's updatedAt and id. */
	before?: { updatedAt: string; id: string };
	limit: number;
}

export interface CreateGroupParams {
	id: string;
	name: string;
	ownerId: string;
	memberIds: string[];
	maxMembers: number;
}

export interface AddMembersParams {
	groupId: string;
	adderId: string;
	userIds: string[];
	maxMembers: number;
}

export interface AddMembersResult {
	group: Group;
	added: string[];
	refused: GroupAddRefusal[];
}

/** A page of a conversation's members in user ID order; pass the last user ID seen to get the next. */
export interface ListMembersParams {
	conversationId: string;
	limit: number;
	afterUserId?: string;
}

export interface ListMessagesParams {
	conversationId: string;
	beforeSeq?: number;
	afterSeq?: number;
	limit: number;
	/** The conversation's last seq, when the caller has just read it from SQL. */
	lastSeq?: number;
	/** Fewer messages, hasMore true, past this many bytes of their JSON (PAGE_MAX_BYTES; see PageBudget). */
	maxBytes: number;
	/** A first message larger than maxBytes is left out instead of sent alone (the page is then empty, hasMore true). */
	allowEmpty?: boolean;
}

/** History pages are what clients see (./client.ts). */
export type { MessagePage };

/** A page and its size, so a caller filling one reply from several pages knows what is left. */
export interface SizedPage extends MessagePage {
	bytes: number;
}

export interface HotCacheStats {
	hits: number;
	misses: number;
}

/** A node's hot cache and group commit counters since it started. */
export interface MessagesStats {
	cache: HotCacheStats & { hitRatio: number | null };
	groupCommit: { batches: number; messages: number; messagesPerBatch: number | null };
}

/** A fan-out job that failed every retry, kept in SQL until an operator replays or drops it. */
export interface StoredDeadLetter {
	id: string;
	channel: string;
	payload: unknown;
	error: string;
	attempts: number;
	createdAt: string;
}

export interface NewDeadLetter {
	channel: string;
	payload: unknown;
	error: string;
	attempts: number;
}

export interface RepoActions {
	"repo.database.status": { params: Record<string, never>; result: DatabaseStatus };

	"repo.users.create": { params: CreateUserParams; result: User };
	"repo.users.get": { params: { id: string }; result: User | null };
	"repo.users.getMany": { params: { ids: string[] }; result: User[] };
	"repo.users.findCredentials": { params: { usernameKey: string }; result: Credentials | null };
	"repo.users.searchByPrefix": { params: { prefix: string; limit: number }; result: User[] };
	"repo.users.getOwn": { params: { id: string }; result: OwnProfile | null };
	"repo.users.update": { params: UpdateUserParams; result: OwnProfile | null };
	/** Up to `limit` guests made before `before` with no message, no membership but the world, no session use since. */
	"repo.users.idleGuests": { params: { before: string; limit: number }; result: string[] };
	/** Deletes those of `ids` that are still idle guests (checked again in the delete); returns how many went. */
	"repo.users.removeIdleGuests": { params: { ids: string[]; before: string }; result: number };

	"repo.sessions.create": { params: CreateSessionParams; result: Session };
	"repo.sessions.get": { params: { id: string }; result: Session | null };
	"repo.sessions.rotate": { params: RotateSessionParams; result: boolean };
	"repo.sessions.revoke": { params: { id: string }; result: boolean };
	/** Revokes every live session of the user; returns their IDs (an operator's kick). */
	"repo.sessions.revokeForUser": { params: { userId: string }; result: string[] };
	"repo.sessions.removeForUsers": { params: { userIds: string[] }; result: number };
	"repo.sessions.prune": { params: { before: string }; result: number };

	"repo.conversations.get": { params: { id: string }; result: Conversation | null };
	"repo.conversations.listForUser": { params: ListForUserParams; result: ConversationWithMembership[] };
	"repo.conversations.listForUserById": {
		params: { userId: string; afterId?: string; limit: number };
		result: ConversationWithMembership[];
	};

	"repo.groups.get": { params: { id: string }; result: Group | null };
	"repo.groups.getMany": { params: { ids: string[] }; result: Group[] };

	/** repo.members owns conversation_members (and group_blocks): every membership change goes through it. */
	"repo.members.role": { params: { conversationId: string; userId: string }; result: MemberRole | null };
	"repo.members.get": { params: { conversationId: string; userId: string }; result: Membership | null };
	"repo.members.list": { params: ListMembersParams; result: Membership[] };
	/** The user's 1:1 peers; with `among`, only those of them (a bounded lookup). */
	"repo.members.directPeers": { params: { userId: string; among?: string[] }; result: string[] };
	"repo.members.markRead": { params: { conversationId: string; userId: string; seq: number }; result: number | null };
	"repo.members.joinWorld": { params: { userId: string }; result: boolean };
	"repo.members.leaveWorld": { params: { userIds: string[] }; result: number };
	"repo.members.ensureDirect": {
		params: { id: string; userIds: string[] };
		result: { conversation: Conversation; created: boolean };
	};
	"repo.members.createGroup": { params: CreateGroupParams; result: { group: Group; refused: GroupAddRefusal[] } };
	"repo.members.addToGroup": { params: AddMembersParams; result: AddMembersResult };
	"repo.members.removeFromGroup": {
		params: { groupId: string; userId: string };
		result: { group: Group; removed: Membership };
	};
	"repo.members.setRole": {
		params: { groupId: string; userId: string; role: Exclude<MemberRole, "owner"> };
		result: Membership;
	};
	"repo.members.blockGroup": { params: { groupId: string; userId: string }; result: { left: boolean } };
	"repo.members.unblockGroup": { params: { groupId: string; userId: string }; result: boolean };

	"repo.messages.append": { params: NewMessage; result: AppendResult };
	"repo.messages.getMany": { params: { ids: string[] }; result: Message[] };
	"repo.messages.list": { params: ListMessagesParams; result: SizedPage };
	"repo.messages.hotCacheStats": { params: Record<string, never>; result: HotCacheStats };
	"repo.messages.stats": { params: Record<string, never>; result: MessagesStats };

	"repo.deadLetters.add": { params: NewDeadLetter; result: StoredDeadLetter };
	"repo.deadLetters.list": { params: { limit: number; afterId?: string }; result: StoredDeadLetter[] };
	"repo.deadLetters.count": { params: Record<string, never>; result: number };
	"repo.deadLetters.remove": { params: { ids: string[] }; result: number };

	"repo.presence.connect": { params: { userId: string; nodeId: string }; result: { wasOnline: boolean } };
	"repo.presence.disconnect": { params: { userId: string; nodeId: string }; result: { stillOnline: boolean } };
	"repo.presence.refresh": { params: { nodeId: string; userIds: string[] }; result: number };
	"repo.presence.locate": { params: { userIds: string[] }; result: Record<string, string[]> };
	"repo.presence.removeNode": { params: { nodeId: string }; result: string[] };
	"repo.presence.checkpoint": { params: { nodeId: string; mark: string }; result: { intact: boolean; mark: string } };
}
