import type { IncomingMessage, ServerResponse } from "http";
import type { Context, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import ApiGateway from "moleculer-web";
import { call, serviceActions } from "../../lib/contracts";
import { REST_BASE_PATH, REST_ROUTES } from "../../lib/contracts/client";
import type { GatewayHealth, GatewayReadiness } from "../../lib/contracts/gateway";
import { DOCS_PAGE, DOCS_PAGE_CSP } from "../../lib/openapi/docs-page";
import { DOCS_PATH, OPENAPI_PATH, OpenApiDocument } from "../../lib/openapi/document";
import { openApiSource } from "../../lib/openapi/source";
import { clientAddress } from "../../lib/client-address";
import { fail, toHttpError } from "../../lib/errors";
import { healthBody } from "../../lib/health/health-server";
import { lifecycleOf } from "../../lib/health/lifecycle";
import { checkReadiness } from "../../lib/health/readiness";
import { recordRefusal } from "../../lib/metrics";
import { guardWhileDraining } from "./drain-guard";
import { declaredFieldsOnly, ParamsSchema } from "../../lib/payload-shape";
import type { AuthMeta } from "../../lib/types";
import type { GatewayLimits } from "./gateway-limits";
import { WEB_BUILD_DIR } from "../../lib/project-paths";
import { requestHygiene } from "./request-hygiene";
import { createSocketGatewayMixin } from "./socket-gateway.mixin";
import { ConfigThis, createConfigMixin } from "../../mixins/config.mixin";
import { NO_RETRY } from "../../lib/resilience";
import type { Config } from "../../lib/config";

type ApiThis = Service &
	ConfigThis & {
		addRoute(route: object, toBottom?: boolean): void;
		releaseSockets(): Promise<void>;
		drainSockets(deadline: number): Promise<string[]>;
		drain(deadline: number): Promise<string[]>;
		server: import("http").Server;
		limits: GatewayLimits;
		draining: boolean;
		openApi: () => OpenApiDocument;
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

/**
 * Actions that answer 201 Created, with the Location of what they made, when they made something
 * (`alsoOk`: they answer 200 when it existed). The OpenAPI document reads the statuses from here.
 */
const CREATED: Record<string, { location: (data: any) => string | null; alsoOk?: boolean }> = {
	"auth.register": { location: data => `/api/v1/users/${data.user.id}` },
	"auth.guest": { location: data => `/api/v1/users/${data.user.id}` },
	"groups.create": { location: data => `/api/v1/groups/${data.group.id}` },
	"conversations.openDirect": {
		location: data => (data.created ? `/api/v1/conversations/${data.conversation.id}/messages` : null),
		alsoOk: true
	}
};

/** moleculer-web aliases ("POST /auth/login": "auth.login") of the public or the authenticated routes. */
function aliasesOf(publicRoutes: boolean): Record<string, string> {
	const aliases: Record<string, string> = {};
	for (const [action, route] of Object.entries(REST_ROUTES)) {
		if (route.public === publicRoutes) aliases[`${route.method} ${route.path}`] = action;
	}
	return aliases;
}

/**
 * The web chat's page is asked for again on every load, so a deploy reaches browsers at once; its
 * scripts and styles carry a content hash in their names, so they may be kept for good.
 */
function webCacheHeaders(res: ServerResponse, file: string): void {
	res.setHeader("Cache-Control", file.endsWith(".html") ? "no-cache" : "public, max-age=31536000, immutable");
}

/** JSON body limit: room for the largest message even if every character arrives \u-escaped. */
function bodyLimit(config: Config): number {
	return Math.max(64 * 1024, config.messageMaxBytes * 6 + 4096);
}

/** A REST route; built when the service is created, since its limits come from the broker's config. */
function jsonRoute(config: Config, name: string, aliases: Record<string, string>, authorization: boolean) {
	return {
		name,
		path: REST_BASE_PATH,
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
			const location = req.$action && CREATED[req.$action.name]?.location(data);
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
				aliases: {
					"GET /health": "api.health",
					"GET /ready": "api.ready",
					[`GET ${OPENAPI_PATH}`]: "api.openapi",
					[`GET ${DOCS_PATH}`]: "api.docs"
				}
			}
		],
		// The web chat (web/, built into dist/web): served for GET requests no route matched.
		assets: { folder: WEB_BUILD_DIR, options: { index: "index.html", setHeaders: webCacheHeaders } },
		cors: {
			origin: "*",
			methods: ["GET", "POST", "PATCH", "DELETE", "OPTIONS"],
			exposedHeaders: ["Retry-After", "Location"],
			maxAge: 600
		},
		// A client's X-Request-ID (or X-Correlation-ID) names its request in every log line: a long or
		// odd one is replaced by a generated ID rather than copied into the logs.
		rootCallOptions(options: { requestID?: unknown }) {
			if (typeof options.requestID !== "string" || !/^[\w.:-]{1,64}$/.test(options.requestID))
				delete options.requestID;
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
					return healthBody(this.broker);
				}
			},

			/**
			 * The same answer as /ready on HEALTH_PORT (lib/health/readiness.ts): every service behind the
			 * routes is up, the database answers and is migrated, Redis and the transporter answer, and
			 * the gateway is not draining.
			 */
			ready: {
				params: {},
				async handler(this: ApiThis): Promise<GatewayReadiness> {
					const { ready, problems, nodeId, checks, database } = await checkReadiness(
						this.broker,
						this.config
					);
					if (!ready) fail("SERVICE_UNAVAILABLE", problems.join("; "), { nodeId, checks });
					return { status: "ready", nodeId, checks, ...(database ? { database } : {}) };
				}
			},

			/** The OpenAPI 3.1 document of the REST routes (lib/openapi), built from the actions' params. */
			openapi: {
				params: {},
				handler(this: ApiThis): OpenApiDocument {
					return this.openApi();
				}
			},

			/** A page that renders that document; self-contained, since many networks reach no CDN. */
			docs: {
				params: {},
				handler(
					this: ApiThis,
					ctx: Context<unknown, { $responseType?: string; $responseHeaders?: Record<string, string> }>
				): string {
					ctx.meta.$responseType = "text/html; charset=utf-8";
					ctx.meta.$responseHeaders = { "Content-Security-Policy": DOCS_PAGE_CSP };
					return DOCS_PAGE;
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
			if ((req as Request).$action?.name === "messages.send") {
				try {
					this.limits.admitSend(null, claims.userId);
				} catch (err) {
					// Logic counts the refusals of the sends it received; this one never reached it.
					recordRefusal(this.broker, toHttpError(err).body.error.code);
					throw err;
				}
			}
		},

		/**
		 * SIGTERM's first step (lib/health/shutdown.ts): /ready answers 503 from now on, new requests and
		 * sockets are refused with 503 and Retry-After, idle keep-alive connections close, and the
		 * sockets drain. Returns what did not finish by the deadline.
		 */
		async drain(this: ApiThis, deadline: number): Promise<string[]> {
			this.draining = true;
			this.server.closeIdleConnections();
			return this.drainSockets(deadline);
		}
	},

	/** moleculer-web made the server already; slow clients get seconds, not minutes, to send a request. */
	created(this: ApiThis) {
		const config = this.config;
		this.openApi = openApiSource(this.broker, CREATED);
		// moleculer-web added the probes already; the REST routes go in front, public first, and
		// settings.routes lists them too, as if the schema had declared them.
		const routes = [
			jsonRoute(config, "public", aliasesOf(true), false),
			jsonRoute(config, "authenticated", aliasesOf(false), true)
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
		// Socket.IO attached its listeners when the socket mixin started, so the guard runs before them.
		guardWhileDraining(this.server, () => this.draining);
		lifecycleOf(this.broker).onDrain("gateway", deadline => this.drain(deadline));
		const address = this.server.address();
		const port = typeof address === "object" && address ? address.port : this.settings.port;
		this.logger.info(`GoChat is listening on http://${this.settings.ip}:${port} (REST under /api/v1)`);
	},

	/** Runs before moleculer-web closes the server, which would otherwise wait for the open sockets. */
	async stopped(this: ApiThis) {
		lifecycleOf(this.broker).offDrain("gateway");
		await this.releaseSockets();
	}
};

export default ApiService;
