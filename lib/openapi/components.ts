import type { RestAction, RestActions } from "../contracts/client";
import type {
	AuthResult,
	ConversationSummary,
	Group,
	GroupAddRefusal,
	GroupMember,
	Membership,
	Message,
	OwnProfile,
	User
} from "../types";
import type { JsonSchema } from "./params-schema";

/**
 * The shapes of lib/types.ts and the results of RestActions as JSON Schema, written once. Each
 * object lists exactly its type's fields (tsc checks the names); the integration test checks real
 * answers against them.
 */

type Properties<T> = { [K in keyof T]-?: JsonSchema };

export type ComponentName =
	| "Error"
	| "User"
	| "OwnProfile"
	| "Message"
	| "ConversationSummary"
	| "Group"
	| "GroupAddRefusal"
	| "GroupMember"
	| "Membership"
	| "AuthResult";

/** An object schema; every field is required unless named in `optional`. */
function object<T>(properties: Properties<T>, optional: (keyof T)[] = [], description?: string): JsonSchema {
	const required = Object.keys(properties).filter(name => !optional.includes(name as keyof T));
	return { type: "object", ...(description ? { description } : {}), properties, required };
}

export const ref = (name: ComponentName) => ({ $ref: `#/components/schemas/${name}` });
const nullable = (schema: JsonSchema) => ({ anyOf: [schema, { type: "null" }] });
const listOf = (schema: JsonSchema) => ({ type: "array", items: schema });

const id = (description: string): JsonSchema => ({ type: "string", pattern: "^(0|[1-9][0-9]*)$", description });
const time = (description = "ISO-8601 UTC."): JsonSchema => ({ type: "string", format: "date-time", description });
const count = (description: string): JsonSchema => ({ type: "integer", minimum: 0, description });
const cursor = (description: string): JsonSchema => ({ type: ["string", "null"], description });

const userFields: Properties<User> = {
	id: id("User ID."),
	username: { type: "string", description: "As registered; guests get guest_<12 hex digits>." },
	displayName: { type: "string" },
	avatarUrl: { type: ["string", "null"] },
	isGuest: { type: "boolean" },
	createdAt: time()
};

const role = { enum: ["owner", "admin", "member"] };

export const COMPONENT_SCHEMAS: Record<ComponentName, JsonSchema> = {
	Error: object<{ error: unknown }>(
		{
			error: object<{ code: string; message: string; details?: unknown }>(
				{
					code: {
						type: "string",
						description: "Stable: write client logic against it (docs/api.md#error-codes)."
					},
					message: { type: "string", description: "English text for developers; may change." },
					details: { description: "Present on some errors: the fields at fault, retryAfter, maxBytes, ..." }
				},
				["details"]
			)
		},
		[],
		"Every error: {error: {code, message, details?}}."
	),
	User: object<User>(userFields),
	OwnProfile: object<OwnProfile>(
		{
			...userFields,
			groupAddPolicy: { enum: ["everyone", "contacts", "nobody"], description: "Who may add you to groups." }
		},
		[],
		"Your own profile: a User plus the settings only you see."
	),
	Message: object<Message>({
		id: id("Message ID."),
		conversationId: { type: "string" },
		senderId: id('The sender\'s user ID; "0" for a system message.'),
		type: { enum: ["text", "image", "file", "system"] },
		content: { type: "string" },
		seq: { type: "integer", minimum: 1, description: "Position in the conversation, from 1." },
		clientMsgId: { type: "string", description: "The sender's de-duplication key." },
		createdAt: time()
	}),
	ConversationSummary: object<ConversationSummary>(
		{
			id: { type: "string", description: "Conversation ID." },
			type: { enum: ["direct", "group", "world"] },
			title: { type: "string" },
			lastMessage: nullable(ref("Message")),
			lastSeq: count("seq of the newest message, 0 if none."),
			readSeq: count("Your read position."),
			unreadCount: count("lastSeq - readSeq."),
			updatedAt: time("Time of the last message, or of creation.")
		},
		[],
		"One row of your conversation list."
	),
	Group: object<Group>({
		id: id("Group ID."),
		name: { type: "string" },
		avatarUrl: { type: ["string", "null"] },
		ownerId: id("The owner's user ID."),
		memberCount: { type: "integer", minimum: 1 },
		conversationId: { type: "string", description: "group_<id>: use it with the message routes." },
		createdAt: time(),
		updatedAt: time()
	}),
	GroupAddRefusal: object<GroupAddRefusal>(
		{ userId: id("A user who was not added."), reason: { enum: ["blocked", "policy"] } },
		[],
		"blocked: they blocked the group; policy: their groupAddPolicy does not allow you."
	),
	GroupMember: object<GroupMember>({
		userId: id("User ID."),
		role,
		joinedAt: time(),
		user: nullable(ref("User"))
	}),
	Membership: object<Membership>({
		conversationId: { type: "string" },
		userId: id("User ID."),
		role,
		readSeq: count("The member's read position."),
		joinedAt: time()
	}),
	AuthResult: object<AuthResult>(
		{
			user: ref("User"),
			accessToken: { type: "string", description: "A JWT: send it as Authorization: Bearer <accessToken>." },
			refreshToken: { type: "string", description: "Works once at POST /api/v1/auth/refresh." }
		},
		[],
		"A new session's tokens."
	)
};

type Result<A extends RestAction> = RestActions[A]["result"];
const result = <A extends RestAction>(properties: Properties<Result<A>>) => object<Result<A>>(properties);

const groupResult = { group: ref("Group") };
const refused = listOf(ref("GroupAddRefusal"));
const page = { nextCursor: cursor("Give it as cursor for the next page; null on the last one.") };

/** What each REST action answers on success. */
export const RESULT_SCHEMAS: { [A in RestAction]: JsonSchema } = {
	"auth.register": ref("AuthResult"),
	"auth.login": ref("AuthResult"),
	"auth.guest": ref("AuthResult"),
	"auth.refresh": ref("AuthResult"),
	"auth.logout": result<"auth.logout">({ ok: { const: true } }),
	"users.me": result<"users.me">({ user: ref("OwnProfile") }),
	"users.updateMe": result<"users.updateMe">({ user: ref("OwnProfile") }),
	"users.get": result<"users.get">({ user: ref("User") }),
	"users.search": result<"users.search">({ users: listOf(ref("User")) }),
	"conversations.openDirect": result<"conversations.openDirect">({
		conversation: ref("ConversationSummary"),
		created: { type: "boolean", description: "true when this call made the conversation (answered 201)." }
	}),
	"conversations.list": result<"conversations.list">({
		conversations: listOf(ref("ConversationSummary")),
		...page
	}),
	"conversations.markRead": result<"conversations.markRead">({
		conversationId: { type: "string" },
		readSeq: count("Your read position now."),
		lastSeq: count("seq of the newest message."),
		unreadCount: count("lastSeq - readSeq.")
	}),
	"messages.send": result<"messages.send">({ message: ref("Message") }),
	"messages.history": result<"messages.history">({
		messages: listOf(ref("Message")),
		hasMore: { type: "boolean", description: "More messages lie beyond this page." }
	}),
	"groups.create": result<"groups.create">({ ...groupResult, refused }),
	"groups.get": result<"groups.get">(groupResult),
	"groups.members": result<"groups.members">({ members: listOf(ref("GroupMember")), ...page }),
	"groups.addMembers": result<"groups.addMembers">({
		...groupResult,
		added: listOf(id("A user added.")),
		refused
	}),
	"presence.query": result<"presence.query">({
		presence: listOf({
			type: "object",
			required: ["userId", "online"],
			additionalProperties: false,
			properties: {
				userId: id("A user you named."),
				online: {
					type: ["boolean", "null"],
					description:
						"null: you have no 1:1 conversation with this user, so their presence is not shown to you."
				}
			}
		})
	}),
	"groups.removeMember": result<"groups.removeMember">(groupResult),
	"groups.leave": result<"groups.leave">(groupResult),
	"groups.block": result<"groups.block">({
		groupId: id("Group ID."),
		blocked: { const: true },
		left: { type: "boolean", description: "Whether you were a member and left." }
	}),
	"groups.unblock": result<"groups.unblock">({ groupId: id("Group ID."), blocked: { const: false } }),
	"groups.setRole": result<"groups.setRole">({ member: ref("Membership") })
};
