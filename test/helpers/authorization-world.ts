import type { Socket } from "socket.io-client";
import type { RunningGoChat } from "./gochat";
import { Account, Api, register } from "./http";
import { connect } from "./sockets";
import { claimsOf, signToken, tamperedToken, unsignedToken } from "./tokens";

/**
 * The world of the authorization matrix, built once: users in every role towards one group and
 * one direct conversation, a socket per role that records every event it receives, and tokens
 * of every kind a hostile or stale client might present.
 */

/** Callers that hold a valid token; their role is towards the world's group and direct conversation. */
export const ROLES = ["owner", "admin", "member", "nonMember", "formerMember", "guest"] as const;
export type Role = (typeof ROLES)[number];

/** Callers without a usable token; all but `none` are built from the owner's live session. */
export const TOKEN_KINDS = [
	"none",
	"notBearer",
	"garbage",
	"expired",
	"revoked",
	"wrongSecret",
	"algNone",
	"wrongAlg",
	"tampered",
	"refreshAsAccess"
] as const;
export type TokenKind = (typeof TOKEN_KINDS)[number];

export interface BadToken {
	/** The Authorization header sent over REST (none: no header). */
	authorization?: string;
	/** What the socket handshake sends as auth.token. */
	socketToken?: string;
	/** The refusal REST and the handshake give (as docs/api.md "Authentication errors" lists them). */
	restCode: string;
	socketCode: string;
}

/** Users that are never callers: a peer for direct conversations, and the targets of group management. */
export type Extra = "peer" | "plainTarget" | "adminTarget";

export interface ReceivedEvent {
	event: string;
	payload: unknown;
}

export interface World {
	gochat: RunningGoChat;
	api: Api;
	accounts: Record<Role | Extra, Account>;
	/** The group (owner, admin, member, plainTarget, adminTarget as a second admin; formerMember left it) and its conversation. */
	groupId: string;
	groupConversationId: string;
	/** The owner's and the member's direct conversation. */
	directId: string;
	sockets: Record<Role, Socket>;
	received: Record<Role, ReceivedEvent[]>;
	badTokens: Record<TokenKind, BadToken>;
	/** Per role, the access token of a session of that user that was logged out (guests have only one session). */
	revokedTokens: Partial<Record<Role, string>>;
	/** Every conversation each user was ever put in during the run (groups made for single cells). */
	everIn: Map<string, Set<string>>;
	jwtSecret: string;
}

export const PASSWORD = "correct horse";

export function noteMembership(world: World, conversationId: string, userIds: string[]): void {
	for (const userId of userIds) {
		const set = world.everIn.get(userId) ?? new Set<string>();
		world.everIn.set(userId, set.add(conversationId));
	}
}

async function expectStatus(what: string, reply: Promise<{ status: number; body: any }>, status: number) {
	const res = await reply;
	if (res.status !== status) throw new Error(`${what}: ${res.status} ${JSON.stringify(res.body)}`);
	return res.body;
}

export async function login(api: Api, account: Account): Promise<Account> {
	const body = await expectStatus(
		"login",
		api.post("/api/v1/auth/login", { username: account.user.username, password: PASSWORD }),
		200
	);
	return {
		...account,
		api: api.as(body.accessToken),
		accessToken: body.accessToken,
		refreshToken: body.refreshToken
	};
}

export async function guest(api: Api): Promise<Account> {
	const body = await expectStatus("guest", api.post("/api/v1/auth/guest", {}), 201);
	return { api: api.as(body.accessToken), ...body };
}

/** A new session of the role's user (a new guest for the guest role: a guest cannot log in again). */
export async function freshSession(world: World, role: Role): Promise<Account> {
	return role === "guest" ? guest(world.api) : login(world.api, world.accounts[role]);
}

/**
 * A group made for one cell that changes membership: owner, admin and member as in the world's
 * group, with the plain target and (promoted only when asked) the admin target, so the cell can
 * remove, promote or leave without touching what other cells read. The former member's role is
 * tried on the world's group; here she is simply not in it.
 */
export async function freshGroup(
	world: World,
	options: { adminTarget?: boolean } = {}
): Promise<{ id: string; conversationId: string }> {
	const { owner, admin, member, plainTarget, adminTarget } = world.accounts;
	const memberIds = [admin, member, plainTarget, adminTarget].map(a => a.user.id);
	const { group } = await expectStatus(
		"fresh group",
		owner.api.post("/api/v1/groups", { name: "cell", memberIds }),
		201
	);
	noteMembership(world, group.conversationId, [owner.user.id, ...memberIds]);
	const promote = (account: Account) =>
		expectStatus(
			"promote",
			owner.api.patch(`/api/v1/groups/${group.id}/members/${account.user.id}`, { role: "admin" }),
			200
		);
	await Promise.all([promote(admin), ...(options.adminTarget ? [promote(adminTarget)] : [])]);
	return { id: group.id, conversationId: group.conversationId };
}

/** Members of a group as its owner (or `reader`) sees them: userId → role. */
export async function rolesIn(reader: Account, groupId: string): Promise<Map<string, string>> {
	const res = await reader.api.get(`/api/v1/groups/${groupId}/members?limit=1000`);
	if (res.status !== 200)
		throw new Error(`members of ${groupId} as ${reader.user.username}: ${res.status} ${JSON.stringify(res.body)}`);
	return new Map(res.body.members.map((m: { userId: string; role: string }) => [m.userId, m.role]));
}

export async function buildWorld(gochat: RunningGoChat): Promise<World> {
	const api = new Api(gochat.baseUrl);
	const names: Array<Exclude<Role, "guest"> | Extra> = [
		"owner",
		"admin",
		"member",
		"nonMember",
		"formerMember",
		"peer",
		"plainTarget",
		"adminTarget"
	];
	const registered = await Promise.all(names.map(name => register(api, `mx_${name.slice(0, 8)}`)));
	const accounts = Object.fromEntries(names.map((name, i) => [name, registered[i]])) as Record<Role | Extra, Account>;
	accounts.guest = await guest(api);

	const world: World = {
		gochat,
		api,
		accounts,
		groupId: "",
		groupConversationId: "",
		directId: "",
		sockets: {} as World["sockets"],
		received: {} as World["received"],
		badTokens: {} as World["badTokens"],
		revokedTokens: {},
		everIn: new Map(),
		jwtSecret: gochat.config.jwtSecret
	};
	const group = await freshGroup(world, { adminTarget: true });
	world.groupId = group.id;
	world.groupConversationId = group.conversationId;
	// The former member was in the group and left before her socket connected: any event of it reaching her is a leak.
	await expectStatus(
		"add former member",
		accounts.owner.api.post(`/api/v1/groups/${group.id}/members`, { userIds: [accounts.formerMember.user.id] }),
		200
	);
	await expectStatus(
		"former member leaves",
		accounts.formerMember.api.post(`/api/v1/groups/${group.id}/leave`, {}),
		200
	);
	const direct = await expectStatus(
		"direct",
		accounts.owner.api.post("/api/v1/conversations/direct", { userId: accounts.member.user.id }),
		201
	);
	world.directId = direct.conversation.id;
	noteMembership(world, world.directId, [accounts.owner.user.id, accounts.member.user.id]);

	for (const role of ROLES) {
		if (role === "guest") continue;
		const ended = await login(api, accounts[role]);
		await expectStatus("logout", ended.api.post("/api/v1/auth/logout", {}), 200);
		world.revokedTokens[role] = ended.accessToken;
	}
	world.badTokens = badTokens(world);

	for (const role of ROLES) {
		const socket = await connect(gochat.baseUrl, accounts[role].accessToken);
		const received: ReceivedEvent[] = [];
		socket.onAny((event: string, payload: unknown) => received.push({ event, payload }));
		world.sockets[role] = socket;
		world.received[role] = received;
	}
	return world;
}

function badTokens(world: World): Record<TokenKind, BadToken> {
	const owner = world.accounts.owner;
	const claims = claimsOf(owner.accessToken);
	const invalid = (token: string): BadToken => ({
		authorization: `Bearer ${token}`,
		socketToken: token,
		restCode: "TOKEN_INVALID",
		socketCode: "TOKEN_INVALID"
	});
	return {
		none: { restCode: "UNAUTHORIZED", socketCode: "UNAUTHORIZED" },
		// REST wants the Bearer scheme; a socket sends the bare token, so the scheme word makes it garbage there.
		notBearer: {
			authorization: `Basic ${owner.accessToken}`,
			socketToken: `Bearer ${owner.accessToken}`,
			restCode: "UNAUTHORIZED",
			socketCode: "TOKEN_INVALID"
		},
		garbage: invalid("garbage"),
		expired: {
			...invalid(signToken(claims, world.jwtSecret, { expiresIn: -60 })),
			restCode: "TOKEN_EXPIRED",
			socketCode: "TOKEN_EXPIRED"
		},
		revoked: { ...invalid(world.revokedTokens.owner!), restCode: "TOKEN_REVOKED", socketCode: "TOKEN_REVOKED" },
		wrongSecret: invalid(signToken(claims, "not-the-server-secret-but-32-chars-long")),
		algNone: invalid(unsignedToken(claims)),
		wrongAlg: invalid(signToken(claims, world.jwtSecret, { algorithm: "HS512" })),
		tampered: invalid(tamperedToken(owner.accessToken, { sub: world.accounts.admin.user.id })),
		refreshAsAccess: invalid(owner.refreshToken)
	};
}

/** Conversations whose events `role` may receive: those it is in now or was ever put in during the run. */
export async function allowedConversations(world: World, role: Role): Promise<Set<string>> {
	const account = world.accounts[role];
	const res = await account.api.get("/api/v1/conversations");
	if (res.status !== 200) throw new Error(`conversations of ${role}: ${res.status}`);
	const now: string[] = res.body.conversations.map((c: { id: string }) => c.id);
	return new Set([...now, ...(world.everIn.get(account.user.id) ?? [])]);
}

/** The conversation an event is about, if any: `conversationId` or `message.conversationId`, at any depth. */
export function conversationOf(payload: unknown, depth = 0): string | null {
	if (!payload || typeof payload !== "object" || depth > 4) return null;
	const record = payload as Record<string, unknown>;
	if (typeof record.conversationId === "string") return record.conversationId;
	for (const value of Object.values(record)) {
		const found = conversationOf(value, depth + 1);
		if (found) return found;
	}
	return null;
}

/** Rejects after `ms` naming what did not happen in time. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
	let timer: NodeJS.Timeout;
	const timeout = new Promise<never>((_, reject) => {
		timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
	});
	return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
