import type { Socket } from "socket.io-client";
import { startGoChat, RunningGoChat } from "../helpers/gochat";
import type { Account, Reply } from "../helpers/http";
import { connect, emitAck, nextEvent } from "../helpers/sockets";
import {
	allowedConversations,
	buildWorld,
	conversationOf,
	freshGroup,
	freshSession,
	login,
	noteMembership,
	PASSWORD,
	Role,
	ROLES,
	rolesIn,
	TOKEN_KINDS,
	TokenKind,
	within,
	World
} from "../helpers/authorization-world";
import { claimsOf, signToken, unsignedToken } from "../helpers/tokens";

/**
 * Every REST route and every socket event against every kind of caller, each cell stating the
 * answer docs/api.md and docs/realtime.md give it (strangers get the same 404 as for something
 * that does not exist). A failing cell is reported as "route [variant] × caller".
 */

interface Outcome {
	status: number;
	code?: string;
}
const OK: Outcome = { status: 200 };
const CREATED: Outcome = { status: 201 };
const refused = (status: number, code: string): Outcome => ({ status, code });
const NO_CONVERSATION = refused(404, "CONVERSATION_NOT_FOUND");
const NO_GROUP = refused(404, "GROUP_NOT_FOUND");
const FORBIDDEN = refused(403, "FORBIDDEN");
const INVALID = refused(400, "INVALID_INPUT");

type Expectations = Record<Role, Outcome>;
const everyone = (outcome: Outcome): Expectations =>
	Object.fromEntries(ROLES.map(role => [role, outcome])) as Expectations;
const only = (roles: readonly Role[], yes: Outcome, no: Outcome): Expectations =>
	Object.fromEntries(ROLES.map(role => [role, roles.includes(role) ? yes : no])) as Expectations;
/** Group routes by the caller's role in the group; everyone else gets the answer of a group that does not exist. */
const byGroupRole = (owner: Outcome, admin: Outcome, member: Outcome): Expectations => ({
	...everyone(NO_GROUP),
	owner,
	admin,
	member
});

/** Who acts in a cell: a role's user, or (for bad tokens) the owner whose session the token was made from. */
interface Cell {
	world: World;
	role: Role;
	account: Account;
	/** The caller presents a bad token: the request must be refused before it touches anything. */
	badToken: boolean;
}

/** A group of the cell's own when the request may change membership; a bad token's refusal is checked on the world's group. */
const groupFor = (cell: Cell, options: { adminTarget?: boolean } = {}) =>
	cell.badToken ? Promise.resolve({ id: cell.world.groupId }) : freshGroup(cell.world, options);

/** The caller's role in a group made by groupFor (the former member is not in those). */
const roleIn = ({ role, badToken }: Cell): string | null =>
	badToken ? "owner" : role === "owner" || role === "admin" || role === "member" ? role : null;

interface Prepared {
	path: string;
	body?: unknown;
	/** Another session of the cell's user to send the request with (logout must not end the role's session). */
	session?: Account;
	/** Checks what the request left behind: its effect when accepted, none when refused. */
	verify?(accepted: boolean, reply: Reply): Promise<string | void> | string | void;
}

interface RestRow {
	/** The route as api.service declares it, "METHOD /path". */
	route: string;
	variant?: string;
	public?: boolean;
	/** Cells one after another: logins of one user from one address queue behind each other on the server anyway. */
	sequential?: boolean;
	expect: Expectations;
	prepare(cell: Cell): Promise<Prepared> | Prepared;
}

interface EventRow {
	event: string;
	variant?: string;
	expect: Expectations;
	/** Roles the cell does not apply to (a guest has no second session to revoke). */
	skip?: Role[];
	payload(cell: Cell): Promise<unknown> | unknown;
	verify?(ack: any, cell: Cell): Promise<string | void> | string | void;
}

let uniqueCounter = 0;
const unique = (prefix: string) => `${prefix}${process.pid % 1000}x${++uniqueCounter}`;

const directIdOf = (a: string, b: string) => (BigInt(a) < BigInt(b) ? `single_${a}_${b}` : `single_${b}_${a}`);

/** The conversations the message and read routes and events are tried on, and who is in each. */
const TARGETS: Array<{ name: string; members: readonly Role[]; id(world: World): string }> = [
	{ name: "direct", members: ["owner", "member"], id: w => w.directId },
	{ name: "group", members: ["owner", "admin", "member"], id: w => w.groupConversationId },
	{ name: "world", members: ROLES, id: () => "world" },
	{ name: "missing group", members: [], id: () => "group_1" },
	{
		name: "unopened direct",
		members: [],
		id: w => directIdOf(w.accounts.owner.user.id, w.accounts.nonMember.user.id)
	},
	{ name: "malformed", members: [], id: () => "not-a-conversation" }
];

/** Messages of a conversation the owner can read (direct, group, world), newest 200. */
async function clientMsgIdsIn(world: World, conversationId: string): Promise<string[] | null> {
	if (![world.directId, world.groupConversationId, "world"].includes(conversationId)) return null;
	const res = await world.accounts.owner.api.get(`/api/v1/conversations/${conversationId}/messages?limit=200`);
	return res.body.messages.map((m: { clientMsgId: string }) => m.clientMsgId);
}

async function storedOnlyIfAccepted(
	world: World,
	conversationId: string,
	clientMsgId: string,
	accepted: boolean
): Promise<string | void> {
	const ids = await clientMsgIdsIn(world, conversationId);
	if (ids && ids.includes(clientMsgId) !== accepted)
		return `message ${clientMsgId} ${accepted ? "accepted but not stored" : "refused but stored"}`;
}

/** Conversations of the world a role must never see listed or pushed. */
function notVisibleTo(world: World, role: Role): string[] {
	return TARGETS.filter(t => (t.name === "direct" || t.name === "group") && !t.members.includes(role)).map(t =>
		t.id(world)
	);
}

/** After a group-management cell: the user's role in the group as `reader` sees it, the changed one if accepted, the old one if refused. */
function membershipCheck(
	world: World,
	groupId: string,
	userId: string,
	reader: Account,
	whenAccepted: string | null,
	whenRefused: string | null
) {
	return async (accepted: boolean) => {
		const roles = await rolesIn(reader, groupId);
		const role = roles.get(userId) ?? null;
		const wanted = accepted ? whenAccepted : whenRefused;
		if (role !== wanted) return `user's role afterwards is ${role ?? "none"}, expected ${wanted ?? "none"}`;
	};
}

const REST_ROWS: RestRow[] = [
	{
		route: "POST /auth/register",
		public: true,
		expect: everyone(CREATED),
		prepare: () => ({ path: "/auth/register", body: { username: unique("mxr"), password: PASSWORD } })
	},
	{
		route: "POST /auth/login",
		public: true,
		sequential: true,
		expect: everyone(OK),
		prepare: ({ world }) => ({
			path: "/auth/login",
			body: { username: world.accounts.peer.user.username, password: PASSWORD }
		})
	},
	{
		route: "POST /auth/guest",
		public: true,
		expect: everyone(CREATED),
		prepare: () => ({ path: "/auth/guest", body: {} })
	},
	{
		route: "POST /auth/refresh",
		public: true,
		sequential: true,
		expect: everyone(OK),
		prepare: async ({ world }) => ({
			path: "/auth/refresh",
			body: { refreshToken: (await login(world.api, world.accounts.peer)).refreshToken }
		})
	},
	{
		route: "POST /auth/logout",
		expect: everyone(OK),
		prepare: async ({ world, role, badToken }) => {
			if (badToken) return { path: "/auth/logout", body: {} };
			const session = await freshSession(world, role);
			return {
				path: "/auth/logout",
				body: {},
				session,
				verify: async accepted => {
					const after = await session.api.get("/api/v1/users/me");
					const revoked = after.status === 401 && after.body.error?.code === "TOKEN_REVOKED";
					if (accepted && !revoked) return `the session still answers ${after.status}`;
				}
			};
		}
	},
	{
		route: "GET /users/me",
		expect: everyone(OK),
		prepare: ({ account }) => ({
			path: "/users/me",
			verify: (accepted, reply) => {
				if (accepted && reply.body.user.id !== account.user.id) return "another user's profile";
			}
		})
	},
	{
		route: "PATCH /users/me",
		expect: everyone(OK),
		prepare: ({ account }) => {
			const displayName = unique("Name ");
			return {
				path: "/users/me",
				body: { displayName },
				verify: async accepted => {
					const me = await account.api.get("/api/v1/users/me");
					if ((me.body.user.displayName === displayName) !== accepted)
						return `displayName is now ${me.body.user.displayName}`;
				}
			};
		}
	},
	{
		route: "GET /users/:id",
		variant: "existing",
		expect: everyone(OK),
		prepare: ({ world }) => ({ path: `/users/${world.accounts.peer.user.id}` })
	},
	{
		route: "GET /users/:id",
		variant: "missing",
		expect: everyone(refused(404, "USER_NOT_FOUND")),
		prepare: () => ({ path: "/users/1" })
	},
	{
		route: "GET /users",
		expect: everyone(OK),
		prepare: ({ world }) => ({ path: `/users?q=${world.accounts.peer.user.username}` })
	},
	{
		route: "GET /presence",
		expect: everyone(OK),
		prepare: ({ world }) => ({ path: `/presence?userIds=${world.accounts.peer.user.id}` })
	},
	{
		route: "POST /conversations/direct",
		variant: "new peer",
		expect: everyone(CREATED),
		prepare: ({ world, account }) => {
			const peer = world.accounts.peer.user.id;
			noteMembership(world, directIdOf(account.user.id, peer), [account.user.id, peer]);
			return { path: "/conversations/direct", body: { userId: peer } };
		}
	},
	{
		route: "POST /conversations/direct",
		variant: "yourself",
		expect: everyone(INVALID),
		prepare: ({ account }) => ({ path: "/conversations/direct", body: { userId: account.user.id } })
	},
	{
		route: "POST /conversations/direct",
		variant: "missing user",
		expect: everyone(refused(404, "USER_NOT_FOUND")),
		prepare: () => ({ path: "/conversations/direct", body: { userId: "1" } })
	},
	{
		route: "GET /conversations",
		expect: everyone(OK),
		prepare: ({ world, role }) => ({
			path: "/conversations",
			verify: (accepted, reply) => {
				if (!accepted) return;
				const listed = new Set(reply.body.conversations.map((c: { id: string }) => c.id));
				const leaked = notVisibleTo(world, role).filter(id => listed.has(id));
				if (leaked.length > 0) return `lists ${leaked.join(", ")}`;
			}
		})
	},
	...TARGETS.flatMap((target): RestRow[] => [
		{
			route: "GET /conversations/:conversationId/messages",
			variant: target.name,
			expect: only(target.members, OK, NO_CONVERSATION),
			prepare: ({ world }) => ({ path: `/conversations/${target.id(world)}/messages` })
		},
		{
			route: "POST /conversations/:conversationId/messages",
			variant: target.name,
			expect: only(target.members, OK, NO_CONVERSATION),
			prepare: ({ world }) => {
				const clientMsgId = unique("mx-rest-");
				return {
					path: `/conversations/${target.id(world)}/messages`,
					body: { clientMsgId, type: "text", content: `matrix ${clientMsgId}` },
					verify: accepted => storedOnlyIfAccepted(world, target.id(world), clientMsgId, accepted)
				};
			}
		},
		{
			route: "POST /conversations/:conversationId/read",
			variant: target.name,
			expect: only(target.members, OK, NO_CONVERSATION),
			prepare: ({ world }) => ({ path: `/conversations/${target.id(world)}/read`, body: { seq: 0 } })
		}
	]),
	{
		route: "POST /groups",
		expect: everyone(CREATED),
		prepare: () => ({ path: "/groups", body: { name: unique("Group ") } })
	},
	{
		route: "GET /groups/:id",
		variant: "group",
		expect: byGroupRole(OK, OK, OK),
		prepare: ({ world }) => ({ path: `/groups/${world.groupId}` })
	},
	{
		route: "GET /groups/:id",
		variant: "missing",
		expect: everyone(NO_GROUP),
		prepare: () => ({ path: "/groups/1" })
	},
	{
		route: "GET /groups/:id/members",
		variant: "group",
		expect: byGroupRole(OK, OK, OK),
		prepare: ({ world }) => ({ path: `/groups/${world.groupId}/members` })
	},
	{
		route: "GET /groups/:id/members",
		variant: "missing",
		expect: everyone(NO_GROUP),
		prepare: () => ({ path: "/groups/1/members" })
	},
	{
		route: "POST /groups/:id/members",
		variant: "group",
		expect: byGroupRole(OK, OK, FORBIDDEN),
		prepare: ({ world }) => ({
			path: `/groups/${world.groupId}/members`,
			body: { userIds: [world.accounts.peer.user.id] }
		})
	},
	{
		route: "POST /groups/:id/members",
		variant: "missing",
		expect: everyone(NO_GROUP),
		prepare: ({ world }) => ({ path: "/groups/1/members", body: { userIds: [world.accounts.peer.user.id] } })
	},
	{
		route: "DELETE /groups/:id/members/:userId",
		variant: "a plain member",
		expect: byGroupRole(OK, OK, FORBIDDEN),
		prepare: async cell => {
			const { world } = cell;
			const group = await groupFor(cell);
			const target = world.accounts.plainTarget.user.id;
			return {
				path: `/groups/${group.id}/members/${target}`,
				verify: membershipCheck(world, group.id, target, world.accounts.owner, null, "member")
			};
		}
	},
	{
		route: "DELETE /groups/:id/members/:userId",
		variant: "an admin",
		expect: byGroupRole(OK, FORBIDDEN, FORBIDDEN),
		prepare: async cell => {
			const { world } = cell;
			const group = await groupFor(cell, { adminTarget: true });
			const target = world.accounts.adminTarget.user.id;
			return {
				path: `/groups/${group.id}/members/${target}`,
				verify: membershipCheck(world, group.id, target, world.accounts.owner, null, "admin")
			};
		}
	},
	{
		route: "DELETE /groups/:id/members/:userId",
		variant: "the owner",
		expect: byGroupRole(OK, FORBIDDEN, FORBIDDEN),
		prepare: async cell => {
			const { world } = cell;
			const group = await groupFor(cell);
			const target = world.accounts.owner.user.id;
			// The owner removing themself leaves; the plain target stays a member to read the result.
			return {
				path: `/groups/${group.id}/members/${target}`,
				verify: membershipCheck(world, group.id, target, world.accounts.plainTarget, null, "owner")
			};
		}
	},
	{
		route: "DELETE /groups/:id/members/:userId",
		variant: "yourself",
		expect: byGroupRole(OK, OK, OK),
		prepare: async cell => {
			const { world, account } = cell;
			const group = await groupFor(cell);
			const before = roleIn(cell);
			return {
				path: `/groups/${group.id}/members/${account.user.id}`,
				verify: membershipCheck(world, group.id, account.user.id, world.accounts.plainTarget, null, before)
			};
		}
	},
	{
		route: "DELETE /groups/:id/members/:userId",
		variant: "a non-member",
		expect: byGroupRole(refused(404, "MEMBER_NOT_FOUND"), refused(404, "MEMBER_NOT_FOUND"), FORBIDDEN),
		prepare: ({ world }) => ({ path: `/groups/${world.groupId}/members/${world.accounts.nonMember.user.id}` })
	},
	{
		route: "DELETE /groups/:id/members/:userId",
		variant: "missing group",
		expect: everyone(NO_GROUP),
		prepare: ({ world }) => ({ path: `/groups/1/members/${world.accounts.plainTarget.user.id}` })
	},
	{
		route: "PATCH /groups/:id/members/:userId",
		variant: "promote a member",
		expect: byGroupRole(OK, FORBIDDEN, FORBIDDEN),
		prepare: async cell => {
			const { world } = cell;
			const group = await groupFor(cell);
			const target = world.accounts.plainTarget.user.id;
			return {
				path: `/groups/${group.id}/members/${target}`,
				body: { role: "admin" },
				verify: membershipCheck(world, group.id, target, world.accounts.owner, "admin", "member")
			};
		}
	},
	{
		route: "PATCH /groups/:id/members/:userId",
		variant: "the owner",
		expect: byGroupRole(FORBIDDEN, FORBIDDEN, FORBIDDEN),
		prepare: ({ world }) => ({
			path: `/groups/${world.groupId}/members/${world.accounts.owner.user.id}`,
			body: { role: "member" }
		})
	},
	{
		route: "PATCH /groups/:id/members/:userId",
		variant: "missing group",
		expect: everyone(NO_GROUP),
		prepare: ({ world }) => ({
			path: `/groups/1/members/${world.accounts.plainTarget.user.id}`,
			body: { role: "admin" }
		})
	},
	{
		route: "POST /groups/:id/leave",
		variant: "group",
		expect: byGroupRole(OK, OK, OK),
		prepare: async cell => {
			const { world, account } = cell;
			const group = await groupFor(cell);
			const before = roleIn(cell);
			return {
				path: `/groups/${group.id}/leave`,
				body: {},
				verify: membershipCheck(world, group.id, account.user.id, world.accounts.plainTarget, null, before)
			};
		}
	},
	{
		route: "POST /groups/:id/leave",
		variant: "missing",
		expect: everyone(NO_GROUP),
		prepare: () => ({ path: "/groups/1/leave", body: {} })
	},
	{
		// Anyone may block any group ID (no oracle); the answer says only whether the caller left it.
		route: "POST /groups/:id/block",
		variant: "group",
		expect: everyone(OK),
		prepare: async cell => {
			const { world, account } = cell;
			const group = await groupFor(cell);
			const before = roleIn(cell);
			const check = membershipCheck(world, group.id, account.user.id, world.accounts.plainTarget, null, before);
			return {
				path: `/groups/${group.id}/block`,
				body: {},
				verify: async (accepted, reply) => {
					if (accepted && reply.body.left !== (before !== null))
						return `left: ${reply.body.left}, but the caller was ${before ? "" : "not "}a member`;
					return check(accepted);
				}
			};
		}
	},
	{
		route: "POST /groups/:id/block",
		variant: "missing",
		expect: everyone(OK),
		prepare: () => ({ path: "/groups/1/block", body: {} })
	},
	{
		route: "DELETE /groups/:id/block",
		variant: "group",
		expect: everyone(OK),
		prepare: ({ world }) => ({ path: `/groups/${world.groupId}/block` })
	},
	{
		route: "DELETE /groups/:id/block",
		variant: "missing",
		expect: everyone(OK),
		prepare: () => ({ path: "/groups/1/block" })
	}
];

/** An access token of the caller's own user in each state auth:refresh may meet; null where the role has none. */
type RefreshKind =
	| "fresh"
	| "another user"
	| "garbage"
	| "expired"
	| "revoked"
	| "wrong secret"
	| "alg none"
	| "refresh token"
	| "missing";
const REFRESH_OUTCOMES: Record<RefreshKind, Outcome> = {
	fresh: OK,
	"another user": FORBIDDEN,
	garbage: refused(401, "TOKEN_INVALID"),
	expired: refused(401, "TOKEN_EXPIRED"),
	revoked: refused(401, "TOKEN_REVOKED"),
	"wrong secret": refused(401, "TOKEN_INVALID"),
	"alg none": refused(401, "TOKEN_INVALID"),
	"refresh token": refused(401, "TOKEN_INVALID"),
	missing: INVALID
};

async function refreshTokenOf(kind: RefreshKind, { world, role, account }: Cell): Promise<unknown> {
	const claims = claimsOf(account.accessToken);
	switch (kind) {
		case "fresh": {
			if (role !== "guest") return { token: (await login(world.api, account)).accessToken };
			// A guest cannot log in again: a refresh of its own session gives the fresher token.
			const res = await world.api.post("/api/v1/auth/refresh", { refreshToken: account.refreshToken });
			account.refreshToken = res.body.refreshToken;
			return { token: res.body.accessToken };
		}
		case "another user":
			return { token: (role === "nonMember" ? world.accounts.owner : world.accounts.nonMember).accessToken };
		case "garbage":
			return { token: "garbage" };
		case "expired":
			return { token: signToken(claims, world.jwtSecret, { expiresIn: -60 }) };
		case "revoked":
			return { token: world.revokedTokens[role] };
		case "wrong secret":
			return { token: signToken(claims, "not-the-server-secret-but-32-chars-long") };
		case "alg none":
			return { token: unsignedToken(claims) };
		case "refresh token":
			return { token: account.refreshToken };
		case "missing":
			return {};
	}
}

const EVENT_ROWS: EventRow[] = [
	...TARGETS.flatMap((target): EventRow[] => [
		{
			event: "message:send",
			variant: target.name,
			expect: only(target.members, OK, NO_CONVERSATION),
			payload: ({ world }) => ({
				conversationId: target.id(world),
				clientMsgId: unique("mx-socket-"),
				type: "text",
				content: "matrix over a socket"
			}),
			verify: async (ack, { world }) => {
				const stored = await clientMsgIdsIn(world, target.id(world));
				if (ack.ok && stored && !stored.includes(ack.message.clientMsgId)) return "acked but not stored";
			}
		},
		{
			event: "conversation:read",
			variant: target.name,
			expect: only(target.members, OK, NO_CONVERSATION),
			payload: ({ world }) => ({ conversationId: target.id(world), seq: 0 })
		},
		{
			event: "typing",
			variant: target.name,
			expect: only(target.members, OK, NO_CONVERSATION),
			payload: ({ world }) => ({ conversationId: target.id(world) })
		}
	]),
	...[
		{ variant: "nothing listed", since: () => ({}) },
		{
			variant: "others' conversations listed",
			since: (w: World) => ({ [w.directId]: 0, [w.groupConversationId]: 0, group_1: 0 })
		}
	].map((shape): EventRow => ({
		event: "sync",
		variant: shape.variant,
		expect: everyone(OK),
		payload: ({ world }) => ({ since: shape.since(world) }),
		verify: (ack, { world, role }) => {
			const listed = new Set((ack.conversations ?? []).map((c: { conversationId: string }) => c.conversationId));
			const leaked = notVisibleTo(world, role).filter(id => listed.has(id));
			if (leaked.length > 0) return `sync returns ${leaked.join(", ")}`;
		}
	})),
	...(Object.keys(REFRESH_OUTCOMES) as RefreshKind[]).map((kind): EventRow => ({
		event: "auth:refresh",
		variant: kind,
		expect: everyone(REFRESH_OUTCOMES[kind]),
		skip: kind === "revoked" ? ["guest"] : [],
		payload: cell => refreshTokenOf(kind, cell),
		verify: ack => {
			if (ack.ok && typeof ack.expiresAt !== "string") return `expiresAt is ${JSON.stringify(ack.expiresAt)}`;
		}
	}))
];

const label = (route: string, variant?: string) => (variant ? `${route} [${variant}]` : route);
const show = (outcome: Outcome) => (outcome.code ? `${outcome.status} ${outcome.code}` : `${outcome.status}`);

function compare(expected: Outcome, status: number, code: string | undefined): string | null {
	const matches = expected.status === status && (expected.code === undefined || expected.code === code);
	return matches ? null : `expected ${show(expected)}, got ${status}${code ? ` ${code}` : ""}`;
}

async function runRestCell(world: World, row: RestRow, caller: Role | TokenKind): Promise<string | null> {
	const bad = (TOKEN_KINDS as readonly string[]).includes(caller) ? world.badTokens[caller as TokenKind] : null;
	const role: Role = bad ? "owner" : (caller as Role);
	const cell: Cell = { world, role, account: world.accounts[role], badToken: bad !== null };
	const where = `${label(row.route, row.variant)} × ${caller}`;
	try {
		const prepared = await row.prepare(cell);
		const authorization = bad ? bad.authorization : `Bearer ${(prepared.session ?? cell.account).accessToken}`;
		const expected = bad && !row.public ? refused(401, bad.restCode) : row.expect[role];
		const method = row.route.split(" ")[0];
		const reply = await world.api
			.as(undefined)
			.request(method, `/api/v1${prepared.path}`, method === "GET" ? undefined : (prepared.body ?? {}), {
				headers: authorization ? { authorization } : {}
			});
		const mismatch = compare(expected, reply.status, reply.body?.error?.code);
		if (mismatch) return `${where}: ${mismatch} ${JSON.stringify(reply.body).slice(0, 200)}`;
		const effect = await prepared.verify?.(reply.status < 300, reply);
		return effect ? `${where}: ${effect}` : null;
	} catch (err) {
		return `${where}: ${(err as Error).message}`;
	}
}

async function runEventCell(world: World, row: EventRow, role: Role): Promise<string | null> {
	const cell: Cell = { world, role, account: world.accounts[role], badToken: false };
	const where = `${label(row.event, row.variant)} × ${role}`;
	try {
		const payload = await row.payload(cell);
		const ack = await emitAck(world.sockets[role], row.event, payload);
		const expected = row.expect[role];
		const accepted = expected.status < 300;
		const matches = accepted ? ack?.ok === true : ack?.ok === false && ack.error?.code === expected.code;
		if (!matches)
			return `${where}: expected ${accepted ? "ok" : expected.code}, got ${JSON.stringify(ack).slice(0, 200)}`;
		const effect = await row.verify?.(ack, cell);
		return effect ? `${where}: ${effect}` : null;
	} catch (err) {
		return `${where}: ${(err as Error).message}`;
	}
}

const failuresOf = async (cells: Array<Promise<string | null>>) =>
	(await Promise.all(cells)).filter((f): f is string => f !== null);

async function inTurn<T>(items: T[], cell: (item: T) => Promise<string | null>): Promise<string[]> {
	const failures: string[] = [];
	for (const item of items) {
		const failure = await cell(item);
		if (failure) failures.push(failure);
	}
	return failures;
}

/** Runs tasks with at most `size` at once. */
function pool(size: number) {
	let active = 0;
	const waiting: Array<() => void> = [];
	return async <T>(task: () => Promise<T>): Promise<T> => {
		if (active >= size) await new Promise<void>(resolve => waiting.push(resolve));
		active++;
		try {
			return await task();
		} finally {
			active--;
			waiting.shift()?.();
		}
	};
}

/** Rows run a few at once while the tests report them one by one; auth:refresh rows run last, in their tests. */
const ROWS_AT_ONCE = 6;
const restCallers: Array<Role | TokenKind> = [...ROLES, ...TOKEN_KINDS];
const beforeRefresh = EVENT_ROWS.filter(row => row.event !== "auth:refresh");
const refreshRows = EVENT_ROWS.filter(row => row.event === "auth:refresh");

describe("authorization matrix: every route and socket event against every kind of caller", () => {
	let gochat: RunningGoChat;
	let world: World;
	const results = new Map<RestRow | EventRow, Promise<string[]>>();

	beforeAll(async () => {
		gochat = await startGoChat();
		world = await buildWorld(gochat);
		const run = pool(ROWS_AT_ONCE);
		for (const row of REST_ROWS)
			results.set(
				row,
				run(() =>
					row.sequential
						? inTurn(restCallers, caller => runRestCell(world, row, caller))
						: failuresOf(restCallers.map(caller => runRestCell(world, row, caller)))
				)
			);
		for (const row of beforeRefresh)
			results.set(
				row,
				run(() =>
					failuresOf(
						ROLES.filter(role => !row.skip?.includes(role)).map(role => runEventCell(world, row, role))
					)
				)
			);
	}, 60_000);
	afterAll(async () => {
		for (const socket of Object.values(world?.sockets ?? {})) socket.close();
		await gochat?.stop();
	});

	test("every route and client event the gateway serves has rows here", () => {
		const api = gochat.broker.getLocalService("api") as unknown as {
			settings: {
				routes: Array<{ path: string; aliases?: Record<string, string> }>;
				io: { namespaces: Record<string, { events: Record<string, unknown> }> };
			};
		};
		const served = api.settings.routes.filter(r => r.path === "/api/v1").flatMap(r => Object.keys(r.aliases ?? {}));
		const covered = new Set(REST_ROWS.map(r => r.route));
		expect(served.filter(route => !covered.has(route))).toEqual([]);
		expect(REST_ROWS.map(r => r.route).filter(route => !served.includes(route))).toEqual([]);
		const events = Object.keys(api.settings.io.namespaces["/"].events).filter(event => event !== "call");
		const coveredEvents = new Set(EVENT_ROWS.map(r => r.event));
		expect(events.filter(event => !coveredEvents.has(event))).toEqual([]);
		expect(
			["message:send", "conversation:read", "typing", "sync", "auth:refresh"].filter(
				event => !coveredEvents.has(event)
			)
		).toEqual([]);
	});

	test.each(REST_ROWS.map(row => [label(row.route, row.variant), row] as const))("REST %s", async (_name, row) => {
		expect(await results.get(row)).toEqual([]);
	});

	test.each(beforeRefresh.map(row => [label(row.event, row.variant), row] as const))(
		"socket %s",
		async (_name, row) => {
			expect(await results.get(row)).toEqual([]);
		}
	);

	test("no socket received an event of a conversation its user is not in", async () => {
		await Promise.all(results.values());
		const { owner } = world.accounts;
		// Markers sent last: once each socket has them, the pushes of the cells before have arrived too.
		const markers = [
			{ conversationId: world.directId, to: ["owner", "member"] as Role[] },
			{ conversationId: world.groupConversationId, to: ["owner", "admin", "member"] as Role[] },
			{ conversationId: "world", to: [...ROLES] }
		];
		for (const marker of markers) {
			const content = unique("marker ");
			const arrivals = marker.to.map(role =>
				within(
					nextEvent(world.sockets[role], "message:new", (e: any) => e.message.content === content),
					10_000,
					`${role} receives ${content}`
				)
			);
			const sent = await owner.api.post(`/api/v1/conversations/${marker.conversationId}/messages`, {
				clientMsgId: unique("marker-"),
				type: "text",
				content
			});
			expect(sent.status).toBe(200);
			await Promise.all(arrivals);
		}
		const leaks: string[] = [];
		for (const role of ROLES) {
			const allowed = await allowedConversations(world, role);
			for (const { event, payload } of world.received[role]) {
				const conversationId = conversationOf(payload);
				if (conversationId && !allowed.has(conversationId))
					leaks.push(`${role} received ${event} of ${conversationId}`);
			}
		}
		expect(leaks).toEqual([]);
		// The positive side: the members did receive what the cells sent them.
		const pushed = (role: Role, id: string) =>
			world.received[role].some(e => e.event === "message:new" && conversationOf(e.payload) === id);
		expect([pushed("member", world.directId), pushed("admin", world.groupConversationId)]).toEqual([true, true]);
	});

	test("socket handshake × every caller", async () => {
		const failures: string[] = [];
		const opened: Socket[] = [];
		await Promise.all([
			...ROLES.map(async role => {
				try {
					opened.push(await connect(gochat.baseUrl, world.accounts[role].accessToken));
				} catch (err) {
					failures.push(`handshake × ${role}: refused ${(err as Error).message}`);
				}
			}),
			...TOKEN_KINDS.map(async kind => {
				const bad = world.badTokens[kind];
				try {
					opened.push(await connect(gochat.baseUrl, bad.socketToken));
					failures.push(`handshake × ${kind}: expected ${bad.socketCode}, got connected`);
				} catch (err) {
					const code = (err as { data?: { code?: string } }).data?.code;
					if (code !== bad.socketCode)
						failures.push(
							`handshake × ${kind}: expected ${bad.socketCode}, got ${code ?? (err as Error).message}`
						);
				}
			})
		]);
		for (const socket of opened) socket.close();
		expect(failures).toEqual([]);
	});

	test.each(refreshRows.map(row => [label(row.event, row.variant), row] as const))(
		"socket %s",
		async (_name, row) => {
			expect(
				await failuresOf(
					ROLES.filter(role => !row.skip?.includes(role)).map(role => runEventCell(world, row, role))
				)
			).toEqual([]);
			// A refused refresh leaves the socket as it was: connected, its events still served.
			for (const role of ROLES) expect([role, world.sockets[role].connected]).toEqual([role, true]);
		}
	);
});
