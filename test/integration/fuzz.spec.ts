import fc from "fast-check";
import v8 from "v8";
import vm from "vm";
import type { Socket } from "socket.io-client";
import { ERROR_STATUS } from "../../lib/errors";
import { USERNAME_PATTERN } from "../../lib/auth-rules";
import { login, PASSWORD, within } from "../helpers/authorization-world";
import { startGoChat, RunningGoChat } from "../helpers/gochat";
import { Account, Api, register } from "../helpers/http";
import { connect, nextEvent } from "../helpers/sockets";
import { RawHttp, RawReply } from "../helpers/raw-http";
import { claimsOf, signToken, unsignedToken } from "../helpers/tokens";
import {
	Body,
	bodyFor,
	bodyText,
	contentType,
	nastyString,
	pathParam,
	payloadFor,
	queryFor,
	socketArguments
} from "../helpers/fuzz-inputs";

/**
 * Property-based fuzzing against a real server: thousands of generated REST requests and socket
 * events from one user (the fuzzer). Whatever is sent, the server answers below 500, acks every
 * event that asks for one in time, stores nothing a refused request asked for, and keeps its
 * memory. FUZZ_SEED and FUZZ_RUNS (total inputs) change the run; the seed is printed.
 */
const SEED = Number(process.env.FUZZ_SEED ?? 20261121);
const RUNS = Number(process.env.FUZZ_RUNS ?? 4000);
const ACK_BOUND_MS = 5000;
const RSS_BOUND_MB = 200;
/** Socket.IO closes a connection whose packet exceeds maxHttpBufferSize (1 MiB): documented, so not fuzzed. */
const SOCKET_PACKET_MAX = 900_000;
const RESERVED_EVENTS = new Set([
	"connect",
	"connect_error",
	"disconnect",
	"disconnecting",
	"newListener",
	"removeListener"
]);

interface Group {
	id: string;
	conversationId: string;
}

/** Who the fuzzer is, what it owns, and what belongs to others. The observer is in every group of the fuzzer and never named in a request. */
interface Fixtures {
	fuzzer: Account;
	peer: Account;
	victim: Account;
	observer: Account;
	/** The fuzzer's groups (members: fuzzer, peer, observer) that requests may change but not leave. */
	ownGroups: Group[];
	/** The fuzzer's groups that leave and block aim at. */
	expendableGroups: Group[];
	victimGroup: Group;
	ownDirect: string;
	victimDirect: string;
	/** The fuzzer's direct conversation with the victim, which a request may open. */
	unopenedDirect: string;
	/** Refresh tokens of sessions of their own: using one twice revokes only that session. */
	throwawayRefresh: string[];
	tokens: { expired: string; wrongSecret: string; algNone: string };
}

/** What the fuzzer's accepted requests made: after the run the server must hold exactly this. */
class Ledger {
	readonly messages = new Map<string, Set<string>>();
	readonly opened = new Set<string>();
	readonly created = new Set<string>();
	readonly left = new Set<string>();
	readonly members = new Map<string, Set<string>>();
	profile: Record<string, unknown> | null = null;
	readonly registered = new Set<string>();
	readonly refusedUsernames = new Set<string>();
	/** clientMsgIds of sends whose outcome the fuzzer never learnt (sent without an ack, or unanswered): stored or not, both are fine. */
	readonly unknownOutcome = new Set<string>();

	sent(message: { id: string; conversationId: string }) {
		const ids = this.messages.get(message.conversationId) ?? new Set<string>();
		this.messages.set(message.conversationId, ids.add(message.id));
	}
}

interface Violation {
	kind: string;
	where: string;
	detail: string;
	repro: string;
}

interface RestRoute {
	route: string;
	weight: number;
	params?: Record<string, fc.Arbitrary<string>>;
	body?: Record<string, fc.Arbitrary<unknown>>;
	query?: Record<string, fc.Arbitrary<string>>;
	/** public: no token needed; throwaway: a session of its own (logout must not end the fuzzer's). */
	auth: "public" | "fuzzer" | "throwaway";
	accepted?(reply: RawReply, params: Record<string, string>, body: Body): void;
}

interface RestInput {
	route: RestRoute;
	params: Record<string, string>;
	query: string;
	body: Body;
	contentType?: string;
	auth: "token" | "none" | "garbage" | "expired";
}

interface SocketInput {
	event: string;
	args: unknown[];
	ack: boolean;
}

const decoded = (segment: string) => {
	try {
		return decodeURIComponent(segment);
	} catch {
		return segment;
	}
};

function restRoutes(fx: Fixtures, ledger: Ledger): Array<{ lane: string; routes: RestRoute[] }> {
	const F = fx.fuzzer.user.id;
	const userId = fc.constantFrom(F, fx.peer.user.id, fx.victim.user.id, "0", "1", "99999999999999999999");
	const otherUserId = fc.constantFrom(fx.peer.user.id, fx.victim.user.id, "0", "1", "99999999999999999999");
	// Mostly the fuzzer's own, so that many requests are accepted and store something; otherwise others' or none.
	const groupId = fc.oneof(
		{ weight: 2, arbitrary: fc.constantFrom(...fx.ownGroups.map(g => g.id)) },
		{ weight: 1, arbitrary: fc.constantFrom(fx.victimGroup.id, "1", "0") }
	);
	const leavableGroupId = fc.constantFrom(...fx.expendableGroups.map(g => g.id), fx.victimGroup.id, "1");
	const conversationId = ownOrOthers(fx);
	const username = fc.oneof(
		fc.stringMatching(/^[A-Za-z0-9_]{3,32}$/),
		fc.constantFrom(
			fx.fuzzer.user.username,
			fx.peer.user.username,
			fx.fuzzer.user.username.toUpperCase(),
			`${fx.fuzzer.user.username} `
		)
	);
	const displayName = fc.string({ unit: "grapheme", minLength: 1, maxLength: 64 });
	const seq = fc.oneof(fc.nat(100), fc.constantFrom("0", "1", "2"));
	const limit = fc.oneof(fc.nat(1500).map(String), fc.constantFrom("0", "-1", "1.5", "1e3", "abc"));
	const ownGroupIds = new Set([...fx.ownGroups, ...fx.expendableGroups].map(g => g.id));
	const groupConversation = (id: string) => `group_${id}`;
	const membersOf = (id: string) => ledger.members.get(id);

	return [
		{
			lane: "auth",
			routes: [
				{
					route: "POST /auth/register",
					weight: 3,
					auth: "public",
					body: {
						username,
						password: fc.oneof(fc.constant(PASSWORD), fc.string({ minLength: 8, maxLength: 32 })),
						displayName
					},
					accepted: reply => ledger.registered.add(String(reply.json.user.username).toLowerCase())
				},
				{
					route: "POST /auth/login",
					weight: 3,
					auth: "public",
					body: { username, password: fc.oneof(fc.constant(PASSWORD), fc.string({ maxLength: 129 })) }
				},
				{ route: "POST /auth/guest", weight: 2, auth: "public", body: { displayName } },
				{
					route: "POST /auth/refresh",
					weight: 3,
					auth: "public",
					body: { refreshToken: fc.constantFrom(...fx.throwawayRefresh) }
				},
				{ route: "POST /auth/logout", weight: 1, auth: "throwaway" }
			]
		},
		{
			lane: "users",
			routes: [
				{ route: "GET /users/me", weight: 1, auth: "fuzzer" },
				{
					route: "PATCH /users/me",
					weight: 4,
					auth: "fuzzer",
					body: {
						displayName,
						avatarUrl: fc.oneof(fc.webUrl(), fc.constant(null)),
						groupAddPolicy: fc.constantFrom("everyone", "contacts", "nobody")
					},
					accepted: reply => {
						ledger.profile = reply.json.user;
					}
				},
				{ route: "GET /users/:id", weight: 2, auth: "fuzzer", params: { id: userId } },
				{
					route: "GET /presence",
					weight: 2,
					auth: "fuzzer",
					query: {
						userIds: fc.oneof(
							userId,
							fc.array(userId, { maxLength: 120 }).map(ids => ids.join(",")),
							fc.string({ maxLength: 40 })
						)
					}
				},
				{
					route: "GET /users",
					weight: 3,
					auth: "fuzzer",
					query: {
						q: fc.oneof(
							fc.stringMatching(/^[A-Za-z0-9_]{1,32}$/),
							fc.constant(fx.fuzzer.user.username.slice(0, 4))
						),
						limit
					}
				}
			]
		},
		{
			lane: "conversations",
			routes: [
				{
					route: "POST /conversations/direct",
					weight: 2,
					auth: "fuzzer",
					body: { userId },
					accepted: reply => ledger.opened.add(reply.json.conversation.id)
				},
				{ route: "GET /conversations", weight: 1, auth: "fuzzer" },
				{
					route: "GET /conversations/:conversationId/messages",
					weight: 4,
					auth: "fuzzer",
					params: { conversationId },
					query: { beforeSeq: seq.map(String), afterSeq: seq.map(String), limit }
				},
				{
					route: "POST /conversations/:conversationId/read",
					weight: 3,
					auth: "fuzzer",
					params: { conversationId },
					body: { seq }
				}
			]
		},
		{
			lane: "send",
			routes: [
				{
					route: "POST /conversations/:conversationId/messages",
					weight: 1,
					auth: "fuzzer",
					params: { conversationId },
					body: {
						clientMsgId: fc.oneof(fc.uuid(), fc.string({ minLength: 1, maxLength: 64 })),
						type: fc.constantFrom("text", "image", "file"),
						content: fc.oneof(
							fc.string({ unit: "grapheme", minLength: 1, maxLength: 100 }),
							fc.integer({ min: 16_380, max: 16_390 }).map(n => "x".repeat(n))
						)
					},
					accepted: reply => ledger.sent(reply.json.message)
				}
			]
		},
		{
			lane: "groups",
			routes: [
				{
					route: "POST /groups",
					weight: 3,
					auth: "fuzzer",
					body: { name: displayName, memberIds: fc.array(userId, { maxLength: 4 }) },
					accepted: reply => ledger.created.add(reply.json.group.conversationId)
				},
				{ route: "GET /groups/:id", weight: 2, auth: "fuzzer", params: { id: groupId } },
				{
					route: "GET /groups/:id/members",
					weight: 2,
					auth: "fuzzer",
					params: { id: groupId },
					query: { limit, after: userId }
				},
				{
					route: "POST /groups/:id/members",
					weight: 3,
					auth: "fuzzer",
					params: { id: groupId },
					body: { userIds: fc.array(userId, { minLength: 1, maxLength: 4 }) },
					accepted: (reply, params) => {
						for (const id of reply.json.added ?? []) membersOf(decoded(params.id))?.add(id);
					}
				},
				{
					route: "DELETE /groups/:id/members/:userId",
					weight: 3,
					auth: "fuzzer",
					params: { id: groupId, userId: otherUserId },
					accepted: (_reply, params) => membersOf(decoded(params.id))?.delete(decoded(params.userId))
				},
				{
					route: "PATCH /groups/:id/members/:userId",
					weight: 2,
					auth: "fuzzer",
					params: { id: groupId, userId },
					body: { role: fc.constantFrom("admin", "member") }
				},
				{
					route: "POST /groups/:id/leave",
					weight: 1,
					auth: "fuzzer",
					params: { id: leavableGroupId },
					accepted: (_reply, params) => {
						const id = decoded(params.id);
						if (ownGroupIds.has(id)) ledger.left.add(groupConversation(id));
						membersOf(id)?.delete(F);
					}
				},
				{
					route: "POST /groups/:id/block",
					weight: 1,
					auth: "fuzzer",
					params: { id: leavableGroupId },
					accepted: (reply, params) => {
						const id = decoded(params.id);
						if (!reply.json.left) return;
						ledger.left.add(groupConversation(id));
						membersOf(id)?.delete(F);
					}
				},
				{ route: "DELETE /groups/:id/block", weight: 1, auth: "fuzzer", params: { id: leavableGroupId } }
			]
		}
	];
}

function restInput(route: RestRoute): fc.Arbitrary<RestInput> {
	const method = route.route.split(" ")[0];
	const reads = method === "GET";
	return fc.record(
		{
			route: fc.constant(route),
			params: fc.record(
				Object.fromEntries(Object.entries(route.params ?? {}).map(([name, valid]) => [name, pathParam(valid)]))
			) as fc.Arbitrary<Record<string, string>>,
			query: reads
				? queryFor(route.query ?? {})
				: fc.oneof({ weight: 9, arbitrary: fc.constant("") }, { weight: 1, arbitrary: queryFor({}) }),
			body: reads
				? fc.oneof(
						{ weight: 9, arbitrary: fc.constant<Body>({ kind: "none" }) },
						{ weight: 1, arbitrary: bodyFor({}) }
					)
				: bodyFor(route.body ?? {}),
			contentType,
			auth:
				route.auth === "public"
					? fc.constantFrom<RestInput["auth"]>("none", "none", "none", "garbage", "token")
					: fc.oneof(
							{ weight: 20, arbitrary: fc.constant<RestInput["auth"]>("token") },
							{ weight: 1, arbitrary: fc.constantFrom<RestInput["auth"]>("none", "garbage", "expired") }
						)
		},
		{ requiredKeys: ["route", "params", "query", "body", "auth"] }
	);
}

/** Conversation IDs, mostly the fuzzer's own. */
function ownOrOthers(fx: Fixtures): fc.Arbitrary<string> {
	return fc.oneof(
		{ weight: 2, arbitrary: fc.constantFrom("world", fx.ownDirect, ...fx.ownGroups.map(g => g.conversationId)) },
		{
			weight: 1,
			arbitrary: fc.constantFrom(
				fx.unopenedDirect,
				fx.victimDirect,
				fx.victimGroup.conversationId,
				"group_1",
				"group_0",
				"single_1_2"
			)
		}
	);
}

function socketEvents(
	fx: Fixtures
): Array<{ weight: number; event: fc.Arbitrary<string>; payload: fc.Arbitrary<unknown> }> {
	const conversationId = ownOrOthers(fx);
	const token = fc.constantFrom(
		fx.fuzzer.accessToken,
		fx.tokens.expired,
		fx.tokens.wrongSecret,
		fx.tokens.algNone,
		fx.fuzzer.refreshToken,
		fx.peer.accessToken,
		"garbage"
	);
	return [
		{
			weight: 3,
			event: fc.constant("message:send"),
			payload: payloadFor({
				conversationId,
				clientMsgId: fc.oneof(fc.uuid(), fc.string({ minLength: 1, maxLength: 64 })),
				type: fc.constantFrom("text", "image", "file"),
				content: fc.string({ unit: "grapheme", minLength: 1, maxLength: 100 })
			})
		},
		{
			weight: 2,
			event: fc.constant("conversation:read"),
			payload: payloadFor({ conversationId, seq: fc.oneof(fc.nat(100), fc.constant("1")) })
		},
		{ weight: 2, event: fc.constant("typing"), payload: payloadFor({ conversationId }) },
		{
			weight: 2,
			event: fc.constant("sync"),
			payload: payloadFor({
				since: fc.dictionary(conversationId, fc.nat(50), { maxKeys: 4 }),
				cursor: nastyString
			})
		},
		{ weight: 1, event: fc.constant("auth:refresh"), payload: payloadFor({ token }) },
		{
			weight: 1,
			event: fc.oneof(
				fc.constant("call"),
				nastyString.filter(name => name.length < 200 && !RESERVED_EVENTS.has(name))
			),
			payload: payloadFor({
				action: fc.constantFrom("repo.users.get", "$node.list", "io.broadcast"),
				params: fc.constant({})
			})
		}
	];
}

const shorten = (text: string, max = 300) =>
	text.length > max ? `${text.slice(0, max)}…(${text.length} chars)` : text;
const shellQuote = (text: string) => `'${text.replace(/'/g, "'\\''")}'`;

describe("fuzzing: generated REST bodies and socket payloads against a real server", () => {
	let gochat: RunningGoChat;
	let http: RawHttp;
	let fx: Fixtures;
	const ledger = new Ledger();
	const violations = new Map<string, { count: number; example: Violation }>();
	const sockets: Socket[] = [];
	const received: Array<{ event: string; payload: any }> = [];
	let socket: Socket;
	let rss: { before: number; after: number } | null = null;

	const report = (violation: Violation) => {
		const key = `${violation.where} | ${violation.kind} | ${violation.detail}`;
		const seen = violations.get(key);
		if (!seen) violations.set(key, { count: 1, example: violation });
		else {
			seen.count++;
			if (violation.repro.length < seen.example.repro.length) seen.example = violation;
		}
	};

	/** The fuzzer's socket; a new one if the server closed the last (reported: the server should not close it). */
	const currentSocket = async () => {
		if (socket?.connected) return socket;
		socket = await connect(gochat.baseUrl, fx.fuzzer.accessToken);
		socket.onAny((event: string, payload: unknown) => received.push({ event, payload }));
		socket.on("disconnect", reason => {
			if (reason !== "io client disconnect")
				report({
					kind: "socket closed",
					where: "socket",
					detail: reason,
					repro: "(after the events before it)"
				});
		});
		sockets.push(socket);
		return socket;
	};

	beforeAll(async () => {
		// SIGNUP_RATE and LOGIN_RATE are off in the harness; the send and event rates are off here too, and the
		// login throttles out of reach, so 429s do not hide the answers the fuzzer is after.
		gochat = await startGoChat({
			SEND_RATE_SOCKET: "off",
			SEND_RATE_USER: "off",
			SOCKET_EVENT_RATE: "off",
			LOGIN_MAX_FAILURES: "1000",
			LOGIN_ADDRESS_MAX_FAILURES: "100000",
			LOGIN_USERNAME_MAX_FAILURES: "1000000"
		});
		http = new RawHttp(gochat.baseUrl);
		const api = new Api(gochat.baseUrl);
		const [fuzzer, peer, victim, observer] = await Promise.all(
			["fz_fuzzer", "fz_peer", "fz_victim", "fz_observer"].map(name => register(api, name))
		);
		const group = async (owner: Account, members: Account[]): Promise<Group> => {
			const res = await owner.api.post("/api/v1/groups", {
				name: "fuzz",
				memberIds: members.map(m => m.user.id)
			});
			if (res.status !== 201) throw new Error(`group: ${res.status} ${JSON.stringify(res.body)}`);
			return { id: res.body.group.id, conversationId: res.body.group.conversationId };
		};
		const direct = async (a: Account, b: Account) =>
			(await a.api.post("/api/v1/conversations/direct", { userId: b.user.id })).body.conversation.id as string;
		const ownGroups = [
			await group(fuzzer, [peer, observer]),
			await group(fuzzer, [peer, observer]),
			await group(fuzzer, [peer, observer])
		];
		const expendableGroups = [await group(fuzzer, [peer, observer]), await group(fuzzer, [peer, observer])];
		const claims = claimsOf(fuzzer.accessToken);
		const ids = [fuzzer.user.id, victim.user.id].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));
		fx = {
			fuzzer,
			peer,
			victim,
			observer,
			ownGroups,
			expendableGroups,
			victimGroup: await group(victim, [peer]),
			ownDirect: await direct(fuzzer, peer),
			victimDirect: await direct(victim, peer),
			unopenedDirect: `single_${ids[0]}_${ids[1]}`,
			throwawayRefresh: await Promise.all(
				Array.from({ length: 8 }, async () => (await login(api, fuzzer)).refreshToken)
			),
			tokens: {
				expired: signToken(claims, gochat.config.jwtSecret, { expiresIn: -60 }),
				wrongSecret: signToken(claims, "not-the-server-secret-but-32-chars-long"),
				algNone: unsignedToken(claims)
			}
		};
		for (const g of [...ownGroups, ...expendableGroups])
			ledger.members.set(g.id, new Set([fuzzer.user.id, peer.user.id, observer.user.id]));
		ledger.members.set(fx.victimGroup.id, new Set([victim.user.id, peer.user.id]));
		await currentSocket();
	}, 60_000);

	afterAll(async () => {
		for (const s of sockets) s.close();
		http?.close();
		await gochat?.stop();
	});

	async function sendRest(input: RestInput): Promise<void> {
		const [method, template] = input.route.route.split(" ");
		const path = `/api/v1${template.replace(/:(\w+)/g, (_m, name: string) => input.params[name])}${input.query}`;
		const headers: Record<string, string> = {};
		if (input.contentType !== undefined) headers["content-type"] = input.contentType;
		if (input.auth === "garbage") headers.authorization = "Bearer garbage";
		if (input.auth === "expired") headers.authorization = `Bearer ${fx.tokens.expired}`;
		if (input.auth === "token") {
			const token =
				input.route.auth === "throwaway"
					? (await login(new Api(gochat.baseUrl), fx.fuzzer)).accessToken
					: fx.fuzzer.accessToken;
			headers.authorization = `Bearer ${token}`;
		}
		const body = bodyText(input.body);
		const repro = `curl -X ${method} ${shellQuote(`${gochat.baseUrl}${path}`)}${Object.entries(headers)
			.map(([k, v]) => ` -H ${shellQuote(`${k}: ${k === "authorization" ? "Bearer …" : v}`)}`)
			.join("")}${body === undefined ? "" : ` --data-binary ${shellQuote(shorten(body))}`}`;
		let reply: RawReply;
		try {
			reply = await http.request({ method, path, headers, body });
		} catch (err) {
			report({ kind: "no answer", where: input.route.route, detail: (err as Error).message, repro });
			noteUnknownOutcome(input.body.kind === "json" ? input.body.value : null);
			return;
		}
		tally(input.route.route, reply.status);
		if (reply.status >= 500)
			report({
				kind: "5xx",
				where: input.route.route,
				detail: `${reply.status} ${reply.json?.error?.code ?? ""}`,
				repro
			});
		else if (reply.status >= 400 && reply.status !== 431 && typeof reply.json?.error?.code !== "string") {
			report({
				kind: "error without {error: {code}}",
				where: input.route.route,
				detail: `${reply.status}`,
				repro: `${repro}  # got ${shorten(reply.text, 100)}`
			});
		}
		// A public route ignores the token; any other accepted only the fuzzer's.
		if (reply.status < 300 && (input.auth === "token" || input.route.auth === "public"))
			input.route.accepted?.(reply, input.params, input.body);
		if (input.route.route === "POST /auth/register" && reply.status >= 400 && input.body.kind === "json") {
			const name = (input.body.value as { username?: unknown } | null)?.username;
			if (typeof name === "string" && USERNAME_PATTERN.test(name))
				ledger.refusedUsernames.add(name.toLowerCase());
		}
	}

	const statuses = new Map<string, Map<number, number>>();
	const tally = (where: string, status: number) => {
		const counts = statuses.get(where) ?? new Map<number, number>();
		statuses.set(where, counts.set(status, (counts.get(status) ?? 0) + 1));
	};

	const noteUnknownOutcome = (payload: unknown) => {
		const clientMsgId = (payload as { clientMsgId?: unknown } | null)?.clientMsgId;
		if (typeof clientMsgId === "string") ledger.unknownOutcome.add(clientMsgId);
	};
	/** Events that went unacked; past a few, that event is not sent again, so a server that never acks does not stall the run. */
	const unacked = new Map<string, number>();
	const UNACKED_MAX = 5;

	async function sendEvent(input: SocketInput): Promise<void> {
		if ((unacked.get(input.event) ?? 0) >= UNACKED_MAX) return;
		const repro = `socket.emit(${[JSON.stringify(input.event), ...input.args.map(a => shorten(JSON.stringify(a) ?? "undefined", 200))].join(", ")}${input.ack ? ", ack" : ""})`;
		if ((JSON.stringify(input.args) ?? "").length > SOCKET_PACKET_MAX) return;
		const s = await currentSocket();
		const where = isKnownEvent(input.event) ? `socket ${input.event}` : "socket (unknown event)";
		if (!input.ack) {
			if (input.event === "message:send") noteUnknownOutcome(input.args[0]);
			s.emit(input.event, ...input.args);
			tally(`${where} (no ack)`, 0);
			return;
		}
		let ack: any;
		try {
			ack = await s.timeout(ACK_BOUND_MS).emitWithAck(input.event, ...input.args);
		} catch {
			report({ kind: `no ack within ${ACK_BOUND_MS} ms`, where, detail: "", repro });
			unacked.set(input.event, (unacked.get(input.event) ?? 0) + 1);
			if (input.event === "message:send") noteUnknownOutcome(input.args[0]);
			return;
		}
		const code = ack?.ok === false ? ack.error?.code : undefined;
		const known = typeof code === "string" && Object.prototype.hasOwnProperty.call(ERROR_STATUS, code);
		const status = ack?.ok === true ? 200 : known ? ERROR_STATUS[code as keyof typeof ERROR_STATUS] : 0;
		tally(where, status);
		if (typeof ack?.ok !== "boolean" || (ack.ok === false && !known))
			report({ kind: "malformed ack or unknown code", where, detail: shorten(JSON.stringify(ack), 80), repro });
		else if (status >= 500) report({ kind: "5xx ack", where, detail: String(code), repro });
		if (ack?.ok === true && input.event === "message:send" && ack.message?.senderId === fx.fuzzer.user.id)
			ledger.sent(ack.message);
	}
	const isKnownEvent = (event: string) =>
		["message:send", "conversation:read", "typing", "sync", "auth:refresh", "call"].includes(event);

	test("every route and client event the gateway serves is fuzzed", () => {
		const api = gochat.broker.getLocalService("api") as unknown as {
			settings: {
				routes: Array<{ path: string; aliases?: Record<string, string> }>;
				io: { namespaces: Record<string, { events: Record<string, unknown> }> };
			};
		};
		const served = api.settings.routes.filter(r => r.path === "/api/v1").flatMap(r => Object.keys(r.aliases ?? {}));
		const fuzzed = new Set(restRoutes(fx, new Ledger()).flatMap(lane => lane.routes.map(r => r.route)));
		expect(served.filter(route => !fuzzed.has(route))).toEqual([]);
		const events = Object.keys(api.settings.io.namespaces["/"].events);
		const sampled = new Set(socketEvents(fx).flatMap(({ event }) => fc.sample(event, { seed: SEED, numRuns: 50 })));
		expect(events.filter(event => !sampled.has(event))).toEqual([]);
	});

	test("no input gets a 5xx, every event with an ack is acked in time", async () => {
		const lanes = restRoutes(fx, ledger);
		const events = socketEvents(fx);
		const shares: Record<string, number> = {
			auth: 0.12,
			users: 0.12,
			conversations: 0.14,
			send: 0.12,
			groups: 0.15,
			socketA: 0.175,
			socketB: 0.175
		};
		const socketInput = fc.oneof(
			...events.map(({ weight, event, payload }) => ({
				weight,
				arbitrary: fc.record({
					event,
					args: socketArguments(payload),
					ack: fc.oneof(
						{ weight: 5, arbitrary: fc.constant(true) },
						{ weight: 1, arbitrary: fc.constant(false) }
					)
				})
			}))
		);
		const runsOf = (lane: string) => Math.max(1, Math.round(RUNS * shares[lane]));
		console.log(`fuzz: FUZZ_SEED=${SEED} FUZZ_RUNS=${RUNS}`);

		const before = settledRss();
		const started = Date.now();
		await Promise.all([
			...lanes.map(({ lane, routes }, i) =>
				fc.assert(
					fc.asyncProperty(
						fc.oneof(...routes.map(route => ({ weight: route.weight, arbitrary: restInput(route) }))),
						async input => {
							await sendRest(input);
						}
					),
					{ seed: SEED + i, numRuns: runsOf(lane), endOnFailure: true }
				)
			),
			...["socketA", "socketB"].map((lane, i) =>
				fc.assert(
					fc.asyncProperty(socketInput, async input => {
						await sendEvent(input);
					}),
					{ seed: SEED + 100 + i, numRuns: runsOf(lane), endOnFailure: true }
				)
			)
		]);
		// Events sent without an ack have no answer to wait for: one that has, sent after them on the same socket, is answered after them.
		await (await currentSocket()).timeout(ACK_BOUND_MS).emitWithAck("sync", {});
		const after = settledRss();
		rss = { before, after };

		const lines = [...statuses].map(
			([where, counts]) =>
				`${where}: ${[...counts]
					.sort((a, b) => a[0] - b[0])
					.map(([s, n]) => `${s}×${n}`)
					.join(" ")}`
		);
		console.log(
			`fuzz: ${[...statuses.values()].reduce((sum, m) => sum + [...m.values()].reduce((a, b) => a + b, 0), 0)} inputs in ${Date.now() - started} ms (seed ${SEED})\n${lines.join("\n")}`
		);
		const found = [...violations].map(([key, { count, example }]) => `${key} (×${count})\n    ${example.repro}`);
		if (found.length > 0) console.log(`fuzz violations (seed ${SEED}):\n${found.join("\n")}`);
		expect(found).toEqual([]);
	}, 180_000);

	test("refused requests left nothing behind: the fuzzer holds exactly what its accepted requests made", async () => {
		const { fuzzer, peer, victim, observer } = fx;
		const F = fuzzer.user.id;
		const problems: string[] = [];

		const me = await fuzzer.api.get("/api/v1/users/me");
		expect(me.status).toBe(200);
		const profile = ledger.profile ?? {};
		for (const field of ["displayName", "avatarUrl", "groupAddPolicy"]) {
			if (field in profile && me.body.user[field] !== profile[field])
				problems.push(
					`profile ${field} is ${JSON.stringify(me.body.user[field])}, last accepted ${JSON.stringify(profile[field])}`
				);
		}

		// Messages: per conversation, read by a member who cannot have left it.
		const readers = new Map<string, Account>([
			["world", observer],
			[fx.ownDirect, peer],
			[fx.unopenedDirect, victim],
			[fx.victimDirect, peer],
			[fx.victimGroup.conversationId, victim],
			...[...fx.ownGroups, ...fx.expendableGroups].map(g => [g.conversationId, observer] as [string, Account])
		]);
		for (const [conversationId, reader] of readers) {
			const stored = await messagesBy(reader, conversationId, F);
			const accepted = ledger.messages.get(conversationId) ?? new Set<string>();
			const extra = [...stored].filter(
				([id, clientMsgId]) => !accepted.has(id) && !ledger.unknownOutcome.has(clientMsgId)
			);
			const missing = [...accepted].filter(id => !stored.has(id));
			if (extra.length + missing.length > 0)
				problems.push(
					`${conversationId}: ${extra.length} stored but never accepted, ${missing.length} accepted but not stored`
				);
		}
		for (const conversationId of ledger.messages.keys())
			if (!readers.has(conversationId))
				problems.push(`accepted sends to ${conversationId}, which the fuzzer could not name`);

		// Conversations: the fixtures, plus what was opened and created, minus what was left.
		const listed = new Set<string>(
			(await fuzzer.api.get("/api/v1/conversations")).body.conversations.map((c: { id: string }) => c.id)
		);
		const expected = new Set<string>([
			"world",
			fx.ownDirect,
			...[...fx.ownGroups, ...fx.expendableGroups].map(g => g.conversationId),
			...ledger.opened,
			...ledger.created
		]);
		for (const id of ledger.left) expected.delete(id);
		const unexpected = [...listed].filter(id => !expected.has(id));
		const absent = [...expected].filter(id => !listed.has(id));
		if (unexpected.length + absent.length > 0)
			problems.push(
				`conversations: unexpected ${unexpected.join(", ") || "none"}; missing ${absent.join(", ") || "none"}`
			);

		// Members of the fuzzer's groups as the observer sees them, and of the victim's group as the victim does.
		for (const [groupId, wanted] of ledger.members) {
			const reader = groupId === fx.victimGroup.id ? victim : observer;
			const res = await reader.api.get(`/api/v1/groups/${groupId}/members?limit=1000`);
			const actual = new Set<string>((res.body.members ?? []).map((m: { userId: string }) => m.userId));
			const diff = [...new Set([...actual, ...wanted])].filter(id => actual.has(id) !== wanted.has(id));
			if (diff.length > 0)
				problems.push(
					`group ${groupId}: members differ for ${diff.join(", ")} (expected ${[...wanted].join(", ")})`
				);
		}

		// Registrations that were refused created nobody (names that existed before were refused as taken).
		const existing = new Set([fuzzer, peer, victim, observer].map(a => a.user.username.toLowerCase()));
		for (const name of [...ledger.refusedUsernames]
			.filter(n => !ledger.registered.has(n) && !existing.has(n))
			.slice(0, 40)) {
			const found = await fuzzer.api.get(`/api/v1/users?q=${encodeURIComponent(name)}&limit=50`);
			if ((found.body.users ?? []).some((u: { username: string }) => u.username.toLowerCase() === name))
				problems.push(`refused registration of ${name} created the user`);
		}
		expect(problems).toEqual([]);
	}, 60_000);

	test("no socket event of a conversation the fuzzer is not in reached it", async () => {
		const s = await currentSocket();
		const marker = `marker-${Date.now()}`;
		const arrival = within(
			nextEvent(s, "message:new", (e: any) => e.message.content === marker),
			10_000,
			"the fuzzer's own marker"
		);
		for (const conversationId of [fx.victimGroup.conversationId, fx.victimDirect, fx.ownDirect]) {
			const res = await fx.peer.api.post(`/api/v1/conversations/${conversationId}/messages`, {
				clientMsgId: `${marker}-${conversationId.slice(-12)}`,
				type: "text",
				content: marker
			});
			expect(res.status).toBe(200);
		}
		await arrival;
		const allowed = new Set<string>([
			"world",
			fx.ownDirect,
			fx.unopenedDirect,
			...[...fx.ownGroups, ...fx.expendableGroups].map(g => g.conversationId),
			...ledger.opened,
			...ledger.created
		]);
		const leaks = received
			.map(e => e.payload?.conversationId ?? e.payload?.message?.conversationId)
			.filter(id => typeof id === "string" && !allowed.has(id));
		expect([...new Set(leaks)]).toEqual([]);
	});

	test(`the server's memory after the run stays within ${RSS_BOUND_MB} MB of before`, () => {
		expect(rss).not.toBeNull();
		const mb = (bytes: number) => Math.round(bytes / 1024 / 1024);
		console.log(
			`fuzz: RSS before ${mb(rss!.before)} MB, after ${mb(rss!.after)} MB (${mb(rss!.after - rss!.before) >= 0 ? "+" : ""}${mb(rss!.after - rss!.before)} MB)`
		);
		expect(mb(rss!.after - rss!.before)).toBeLessThan(RSS_BOUND_MB);
	});
});

/** The messages `senderId` has in a conversation (id → clientMsgId), read by `reader` page by page; none if it does not exist. */
async function messagesBy(reader: Account, conversationId: string, senderId: string): Promise<Map<string, string>> {
	const ids = new Map<string, string>();
	let beforeSeq: number | undefined;
	for (;;) {
		const res = await reader.api.get(
			`/api/v1/conversations/${conversationId}/messages?limit=200${beforeSeq === undefined ? "" : `&beforeSeq=${beforeSeq}`}`
		);
		if (res.status === 404) return ids;
		if (res.status !== 200)
			throw new Error(`history of ${conversationId}: ${res.status} ${JSON.stringify(res.body)}`);
		const messages: Array<{ id: string; senderId: string; seq: number; clientMsgId: string }> = res.body.messages;
		for (const m of messages) if (m.senderId === senderId) ids.set(m.id, m.clientMsgId);
		if (!res.body.hasMore || messages.length === 0) return ids;
		beforeSeq = messages[0].seq;
	}
}

/**
 * The process's RSS after a full garbage collection: what is still held, not what earlier suites of
 * this jest process (or the run itself) left for the collector.
 */
function settledRss(): number {
	v8.setFlagsFromString("--expose-gc");
	const gc = vm.runInNewContext("gc") as () => void;
	gc();
	gc();
	return process.memoryUsage().rss;
}
