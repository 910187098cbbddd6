import type { RestAction } from "../contracts/client";
import type { ErrorCode } from "../errors";

/**
 * What the action params cannot tell: a line on each route and the errors its own rules raise
 * (docs/api.md lists them per route). Errors every route of a kind shares (bad input, token errors,
 * body errors, 503) are added by the document builder.
 */
export interface OperationNotes {
	summary: string;
	errors: ErrorCode[];
}

export const OPERATION_NOTES: { [A in RestAction]: OperationNotes } = {
	"auth.register": { summary: "Create an account and log in", errors: ["USERNAME_TAKEN", "RATE_LIMITED"] },
	"auth.login": {
		summary: "Log in",
		errors: ["INVALID_CREDENTIALS", "TOO_MANY_ATTEMPTS", "RATE_LIMITED"]
	},
	"auth.guest": { summary: "Create a guest account and log in", errors: ["RATE_LIMITED"] },
	"auth.refresh": {
		summary: "Exchange a refresh token (works once) for new tokens",
		errors: ["REFRESH_TOKEN_INVALID"]
	},
	"auth.logout": { summary: "End the current session", errors: [] },
	"users.me": { summary: "Your profile", errors: ["USER_NOT_FOUND"] },
	"users.updateMe": {
		summary: "Change your display name, avatar or who may add you to groups",
		errors: ["USER_NOT_FOUND"]
	},
	"users.get": { summary: "A user's profile", errors: ["USER_NOT_FOUND"] },
	"users.search": { summary: "Search users by username prefix", errors: [] },
	"conversations.openDirect": {
		summary: "Open (or get) the 1:1 conversation with a user",
		errors: ["USER_NOT_FOUND"]
	},
	"conversations.list": { summary: "Your conversations with unread counts, newest activity first", errors: [] },
	"conversations.markRead": { summary: "Move your read position", errors: ["CONVERSATION_NOT_FOUND"] },
	"messages.send": {
		summary: "Send a message (resend with the same clientMsgId is stored once)",
		errors: ["CONVERSATION_NOT_FOUND", "CLIENT_MSG_ID_CONFLICT", "MESSAGE_TOO_LARGE", "RATE_LIMITED"]
	},
	"messages.history": { summary: "Message history, paged by seq", errors: ["CONVERSATION_NOT_FOUND"] },
	"groups.create": { summary: "Create a group", errors: ["FORBIDDEN", "USER_NOT_FOUND", "GROUP_FULL"] },
	"groups.get": { summary: "A group you belong to", errors: ["GROUP_NOT_FOUND"] },
	"groups.members": { summary: "The group's members, paged", errors: ["GROUP_NOT_FOUND"] },
	"groups.addMembers": {
		summary: "Add members (owner or admin)",
		errors: ["FORBIDDEN", "GROUP_NOT_FOUND", "USER_NOT_FOUND", "GROUP_FULL"]
	},
	"groups.removeMember": {
		summary: "Remove a member (owner or admin, or yourself)",
		errors: ["FORBIDDEN", "GROUP_NOT_FOUND", "MEMBER_NOT_FOUND"]
	},
	"groups.setRole": {
		summary: "Make a member admin, or an admin member (owner)",
		errors: ["FORBIDDEN", "GROUP_NOT_FOUND", "MEMBER_NOT_FOUND"]
	},
	"groups.leave": { summary: "Leave a group", errors: ["GROUP_NOT_FOUND"] },
	"groups.block": { summary: "Leave a group for good: nobody can add you to it again", errors: [] },
	"groups.unblock": { summary: "Lift your block of a group", errors: [] },
	"presence.query": { summary: "Who of your 1:1 peers is online now", errors: [] }
};

/** Tags: one per resource, named by the first part of the action name. */
export const TAGS: { name: string; description: string }[] = [
	{ name: "auth", description: "Sessions: register, log in, guest, refresh, log out." },
	{ name: "users", description: "Profiles and user search." },
	{ name: "conversations", description: "Your conversation list, 1:1 conversations and read positions." },
	{ name: "messages", description: "Sending and history. New messages are also pushed over Socket.IO." },
	{ name: "groups", description: "Groups and their members." },
	{
		name: "presence",
		description: "Who is online now; changes afterwards are pushed over Socket.IO as `presence` events."
	},
	{ name: "meta", description: "This document." }
];
