import type { CallingOptions, Context } from "moleculer";
import type { FanoutJob } from "../services/logic/delivery.service";
import type { DeliveryReport, Push } from "./push-coalescer";
import type { DatabaseStatus } from "../services/repo/database.service";
import type { ConversationWithMembership, ListForUserParams } from "../services/repo/conversations.service";
import type { AddMembersParams, AddMembersResult, CreateGroupParams, ListMembersParams } from "../services/repo/groups.service";
import type { ListMessagesParams, SizedPage } from "../services/repo/messages.service";
import type { AppendResult, NewMessage } from "./db/message-writer";
import type { CreateSessionParams, RotateSessionParams } from "../services/repo/sessions.service";
import type { CreateUserParams, Credentials } from "../services/repo/users.service";
import type { AccessClaims } from "./auth-rules";
import type { Conversation, Group, GroupAddPolicy, GroupAddRefusal, Membership, MemberRole, Message, OwnProfile, Session, User } from "./types";

/** Every action called across services, with its params and result, so ctx.call is checked. */
export interface ActionMap {
	"repo.database.status": { params: Record<string, never>; result: DatabaseStatus };

	"repo.users.create": { params: CreateUserParams; result: User };
	"repo.users.get": { params: { id: string }; result: User | null };
	"repo.users.getMany": { params: { ids: string[] }; result: User[] };
	"repo.users.findCredentials": { params: { usernameKey: string }; result: Credentials | null };
	"repo.users.searchByPrefix": { params: { prefix: string; limit: number }; result: User[] };
	"repo.users.getOwn": { params: { id: string }; result: OwnProfile | null };
	"repo.users.update": { params: { id: string; displayName?: string; avatarUrl?: string | null; groupAddPolicy?: GroupAddPolicy }; result: OwnProfile | null };
	"repo.users.pruneGuests": { params: { before: string; limit: number }; result: number };

	"repo.sessions.create": { params: CreateSessionParams; result: Session };
	"repo.sessions.get": { params: { id: string }; result: Session | null };
	"repo.sessions.rotate": { params: RotateSessionParams; result: boolean };
	"repo.sessions.revoke": { params: { id: string }; result: boolean };
	"repo.sessions.prune": { params: { before: string }; result: number };

	"repo.conversations.get": { params: { id: string }; result: Conversation | null };
	"repo.conversations.ensureDirect": { params: { id: string; userIds: string[] }; result: { conversation: Conversation; created: boolean } };
	"repo.conversations.role": { params: { conversationId: string; userId: string }; result: MemberRole | null };
	"repo.conversations.membership": { params: { conversationId: string; userId: string }; result: Membership | null };
	"repo.conversations.memberIds": { params: { conversationId: string; afterUserId?: string; limit: number }; result: string[] };
	"repo.conversations.directPeers": { params: { userId: string }; result: string[] };
	"repo.conversations.listForUser": { params: ListForUserParams; result: ConversationWithMembership[] };
	"repo.conversations.listForUserById": { params: { userId: string; afterId?: string; limit: number }; result: ConversationWithMembership[] };
	"repo.conversations.markRead": { params: { conversationId: string; userId: string; seq: number }; result: number | null };

	"repo.groups.create": { params: CreateGroupParams; result: { group: Group; refused: GroupAddRefusal[] } };
	"repo.groups.get": { params: { id: string }; result: Group | null };
	"repo.groups.getMany": { params: { ids: string[] }; result: Group[] };
	"repo.groups.members": { params: ListMembersParams; result: Membership[] };
	"repo.groups.addMembers": { params: AddMembersParams; result: AddMembersResult };
	"repo.groups.removeMember": { params: { groupId: string; userId: string }; result: { group: Group; removed: Membership } };
	"repo.groups.block": { params: { groupId: string; userId: string }; result: { left: boolean } };
	"repo.groups.unblock": { params: { groupId: string; userId: string }; result: boolean };
	"repo.groups.setRole": { params: { groupId: string; userId: string; role: Exclude<MemberRole, "owner"> }; result: Membership };

	"repo.messages.append": { params: NewMessage; result: AppendResult };
	"repo.messages.getMany": { params: { ids: string[] }; result: Message[] };
	"repo.messages.list": { params: ListMessagesParams; result: SizedPage };

	"repo.presence.connect": { params: { userId: string; nodeId: string }; result: { wasOnline: boolean } };
	"repo.presence.disconnect": { params: { userId: string; nodeId: string }; result: { stillOnline: boolean } };
	"repo.presence.refresh": { params: { nodeId: string; userIds: string[] }; result: number };
	"repo.presence.locate": { params: { userIds: string[] }; result: Record<string, string[]> };
	"repo.presence.removeNode": { params: { nodeId: string }; result: string[] };
	"repo.presence.checkpoint": { params: { nodeId: string; mark: string }; result: { intact: boolean; mark: string } };

	"auth.resolveToken": { params: { token: string }; result: AccessClaims };
	"delivery.toUsers": { params: Push; result: DeliveryReport };
	"delivery.message": { params: FanoutJob; result: { queued: boolean } };
	"presence.announce": { params: { userId: string; online: boolean }; result: number };
	"api.push": { params: { pushes: Push[] }; result: number };
}

export type ActionName = keyof ActionMap;

export function call<A extends ActionName>(ctx: Context, action: A, params: ActionMap[A]["params"], opts?: CallingOptions): Promise<ActionMap[A]["result"]> {
	return ctx.call(action, params, opts);
}
