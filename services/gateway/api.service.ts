import type { IncomingMessage, ServerResponse } from "http";
import type { Context, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import ApiGateway from "moleculer-web";
import { call, serviceActions } from "../../lib/contracts";
import type { GatewayHealth, GatewayReadiness } from "../../lib/contracts/gateway";
import { clientAddress } from "../../lib/client-address";
import { fail, toHttpError } from "../../lib/errors";
import { declaredFieldsOnly, ParamsSchema } from "../../lib/payload-shape";
import type { AuthMeta } from "../../lib/types";
import type { GatewayLimits } from "./gateway-limits";
import { requestHygiene } from "./request-hygiene";
import { createSocketGatewayMixin } from "./socket-gateway.mixin";
import { ConfigThis, createConfigMixin } from "../../mixins/config.mixin";
import { NO_RETRY } from "../../lib/resilience";
import type { Config } from "../../lib/config";

type ApiThis = Service &
	ConfigThis & {
		addRoute(route: object, toBottom?: boolean): void;
		releaseSockets(): Promise<void>;
		server: import("http").Server;
		limits: GatewayLimits;
	};
type Request = IncomingMessage & {
	$action?: { name: string; params?: ParamsSchema };
	$params?: Record<string, unknown>;
};

/**
 * How often Node looks for requests past their header or whole-request timeout. Its default, 30 s,
 * would let a trickled body live that much longer than HTTP_REQUEST_TIMEOUT_MS.
 */
const CONNECTIONS_CHECK_MS = 1000;

/** Actions that answer 201 Created, with the Location of what they made, when they made something. */
const CREATED: Record<string, (data: any) => string | null> = {
	"auth.register": data => `/api/v1/users/${data.user.id}`,
	"auth.guest": data => `/api/v1/users/${data.user.id}`,
	"groups.create": data => `/api/v1/groups/${data.group.id}`,
	"conversations.openDirect": data => (data.created ? `/api/v1/conversations/${data.conversation.id}/messages` : null)
};

const PUBLIC_ALIASES = {
	"POST /auth/register": "auth.register",
	"POST /auth/login": "auth.login",
	"POST /auth/guest": "auth.guest",
	"POST /auth/refresh": "auth.refresh"
};

const AUTHENTICATED_ALIASES = {
	"POST /auth/logout": "auth.logout",
	"GET /users/me": "users.me",
	"PATCH /users/me": "users.updateMe",
	"GET /users/:id": "users.get",
	"GET /users": "users.search",
	"POST /conversations/direct": "conversations.openDirect",
	"GET /conversations": "conversations.list",
	"GET /conversations/:conversationId/messages": "messages.history",
	"POST /conversations/:conversationId/messages": "messages.send",
	"POST /conversations/:conversationId/read": "conversations.markRead",
	"POST /groups": "groups.create",
	"GET /groups/:id": "groups.get",
	"GET /groups/:id/members": "groups.members",
	"POST /groups/:id/members": "groups.addMembers",
	"DELETE /groups/:id/members/:userId": "groups.removeMember",
	"PATCH /groups/:id/members/:userId": "groups.setRole",
	"POST /groups/:id/leave": "groups.leave",
	"POST /groups/:id/block": "groups.block",
	"DELETE /groups/:id/block": "groups.unblock"
};

/** What must be reachable before this gateway can answer every route (and every socket event). */
const REQUIRED_SERVICES = [
	"auth",
	"users",
	"conversations",
	"messages",
	"groups",
	"delivery",
	"presence",
	"repo.database",
	"repo.users",
	"repo.sessions",
	"repo.conversations",
	"repo.groups",
	"repo.messages",
	"repo.presence",
	"task.fanout"
];

/** JSON body limit: room for the largest message even if every character arrives \u-escaped. */
function bodyLimit(config: Config): number {
	return Math.max(64 * 1024, config.messageMaxBytes * 6 + 4096);
}

/** A REST route; built when the service is created, since its limits come from the broker's config. */
function jsonRoute(config: Config, name: string, aliases: Record<string, string>, authorization: boolean) {
	return {
		name,
		path: "/api/v1",
		authorization,
		mappingPolicy: "restrict",
		autoAliases: false,
		aliases,
		bodyParsers: { json: { limit: bodyLimit(config), strict: true }, urlencoded: false },
		use: [requestHygiene(config.jsonMaxDepth)],
		/**
		 * Only the fields the action declares go on (remote actions carry their schema in the registry).
		 * Limits count per client address: auth's throttles and sign-up limits read it from meta.
		 */
		onBeforeCall(ctx: Context<unknown, AuthMeta>, _route: unknown, req: Request) {
			if (req.$params) req.$params = declaredFieldsOnly(req.$params, req.$action?.params);
			ctx.meta.clientAddress = clientAddress(req, config.trustProxyHops);
		},
		onAfterCall(
			ctx: Context<unknown, { $statusCode?: number; $location?: string }>,
			_route: unknown,
			req: Request,
			_res: ServerResponse,
			data: unknown
		) {
			const location = req.$action && CREATED[req.$action.name]?.(data);
			if (location) {
				ctx.meta.$statusCode = 201;
				ctx.meta.$location = location;
			}
			return data;
		}
	};
}

/**
 * The gateway: REST under /api/v1 (moleculer-web), Socket.IO on the same port (see the socket
 * gateway mixin), health and readiness probes. Only the aliases below are reachable over HTTP;
 * every error leaves as {error: {code, message}}.
 */
const ApiService: ServiceSchema<ServiceSettingSchema, ApiThis> = {
	name: "api",
	mixins: [createConfigMixin(), ApiGateway, createSocketGatewayMixin()],

	settings: {
		port: 3000,
		ip: "0.0.0.0",
		// Set from HTTP_REQUEST_TIMEOUT_MS when the service is created; moleculer-web's default is 300 s.
		requestTimeout: 15_000,
		routes: [
			{
				name: "probes",
				path: "/",
				mappingPolicy: "restrict",
				autoAliases: false,
				bodyParsers: false,
				aliases: { "GET /health": "api.health", "GET /ready": "api.ready" }
			}
		],
		cors: {
			origin: "*",
			methods: ["GET", "POST", "PATCH", "DELETE", "OPTIONS"],
			exposedHeaders: ["Retry-After", "Location"],
			maxAge: 600
		},
		logRequest: "debug",
		logResponse: "debug",
		log4XXResponses: false,

		onError(this: ApiThis, req: IncomingMessage, res: ServerResponse, err: unknown) {
			const { status, body } = toHttpError(err);
			if (status >= 500 && status !== 503) this.logger.error(`${req.method} ${req.url} failed:`, err);
			const retryAfter = (body.error.details as { retryAfter?: number } | undefined)?.retryAfter;
			if ((status === 429 || status === 503) && retryAfter) res.setHeader("Retry-After", String(retryAfter));
			// Errors raised before routing (body parsing) miss the CORS headers; browsers need them to read the error.
			if (req.headers.origin && !res.hasHeader("Access-Control-Allow-Origin")) {
				res.setHeader("Access-Control-Allow-Origin", "*");
				res.setHeader("Access-Control-Expose-Headers", "Retry-After, Location");
			}
			res.setHeader("Content-Type", "application/json; charset=utf-8");
			res.writeHead(status);
			res.end(JSON.stringify(body));
		}
	},

	actions: {
		...serviceActions("api", {
			health: {
				params: {},
				handler(this: ApiThis): GatewayHealth {
					return { status: "ok", nodeId: this.broker.nodeID, uptimeSeconds: Math.round(process.uptime()) };
				}
			},

			/** Ready when every service the routes use is up, the database answers and every migration has run. */
			ready: {
				params: {},
				async handler(this: ApiThis, ctx: Context): Promise<GatewayReadiness> {
					const services = this.broker.registry.getServiceList({ onlyAvailable: true }) as unknown as Array<{
						name: string;
					}>;
					const available = new Set(services.map(service => service.name));
					const missing = REQUIRED_SERVICES.filter(name => !available.has(name));
					if (missing.length > 0) fail("SERVICE_UNAVAILABLE", `Waiting for services: ${missing.join(", ")}`);
					const database = await call(ctx, "repo.database.status", {});
					if (!database.reachable) fail("SERVICE_UNAVAILABLE", "The database is unreachable");
					if (!database.migrated)
						fail("SERVICE_UNAVAILABLE", `Migrations pending: ${database.pending.join(", ")}`);
					return { status: "ready", database: { dialect: database.dialect, migrated: true } };
				}
			}
		}),

		/**
		 * moleculer-web carries every HTTP request through `rest`: it is never retried as a whole (a
		 * write would run twice), and no breaker or bulkhead of its own may close a node's REST traffic;
		 * the actions it calls have theirs.
		 */
		rest: { retryPolicy: NO_RETRY, circuitBreaker: { enabled: false }, bulkhead: { enabled: false } },
		// moleculer-web publishes these for services that add routes at run time; GoChat's routes are fixed.
		addRoute: { visibility: "private", retryPolicy: NO_RETRY },
		removeRoute: { visibility: "private", retryPolicy: NO_RETRY }
	},

	methods: {
		/** moleculer-web logs every 5xx with its stack; onError above logs the unexpected ones itself. */
		errorHandler(this: ApiThis, req: IncomingMessage, res: ServerResponse, err: unknown) {
			(this as unknown as { sendError(req: IncomingMessage, res: ServerResponse, err: unknown): void }).sendError(
				req,
				res,
				err
			);
		},

		/** Bearer token → the caller's user and session in ctx.meta, or a 401 that says why. */
		async authorize(this: ApiThis, ctx: Context<unknown, AuthMeta>, _route: unknown, req: IncomingMessage) {
			const header = req.headers.authorization;
			const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
			if (!match) fail("UNAUTHORIZED", "Send Authorization: Bearer <accessToken>");
			const claims = await call(ctx, "auth.resolveToken", { token: match[1] });
			ctx.meta.userId = claims.userId;
			ctx.meta.sessionId = claims.sessionId;
			// REST sends share the user's send rate with their sockets on this node.
			if ((req as Request).$action?.name === "messages.send") this.limits.admitSend(null, claims.userId);
		}
	},

	/** moleculer-web made the server already; slow clients get seconds, not minutes, to send a request. */
	created(this: ApiThis) {
		const config = this.config;
		// moleculer-web added the probes already; the REST routes go in front, public first, and
		// settings.routes lists them too, as if the schema had declared them.
		const routes = [
			jsonRoute(config, "public", PUBLIC_ALIASES, false),
			jsonRoute(config, "authenticated", AUTHENTICATED_ALIASES, true)
		];
		this.settings.routes.unshift(...routes);
		for (const route of [...routes].reverse()) this.addRoute(route, false);
		this.settings.port = config.port;
		this.settings.ip = config.host;
		this.server.requestTimeout = config.httpRequestTimeoutMs;
		this.server.headersTimeout = Math.min(config.httpHeadersTimeoutMs, config.httpRequestTimeoutMs);
		// Read when the server starts listening; @types/node does not list it.
		(this.server as { connectionsCheckingInterval?: number }).connectionsCheckingInterval = CONNECTIONS_CHECK_MS;
	},

	started(this: ApiThis) {
		const address = this.server.address();
		const port = typeof address === "object" && address ? address.port : this.settings.port;
		this.logger.info(`GoChat is listening on http://${this.settings.ip}:${port} (REST under /api/v1)`);
	},

	/** Runs before moleculer-web closes the server, which would otherwise wait for the open sockets. */
	async stopped(this: ApiThis) {
		await this.releaseSockets();
	}
};

export default ApiService;
