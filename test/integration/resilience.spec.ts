import crypto from "crypto";
import fs from "fs";
import path from "path";
import type { ActionHandler, ActionSchema, BrokerOptions, Context, ServiceBroker } from "moleculer";
import { loadConfig } from "../../lib/config";
import { UNAVAILABLE_RETRY_AFTER_SECONDS } from "../../lib/errors";
import { REQUEST_TIMEOUT_MS } from "../../lib/resilience";
import { createBroker, createBrokerOptions } from "../../moleculer.config";
import { RunningGoChat, startGoChat, waitForServiceOn } from "../helpers/gochat";
import { Account, Api, register, Reply } from "../helpers/http";

/**
 * The broker's declared resilience, seen by a client. Node A runs GoChat without repo.users;
 * node B runs the real repo.users behind a test middleware that injects failures, so A's calls
 * to it cross the transporter as in a cluster.
 */

/** Failures to inject into one action: thrown before its handler runs, or after (the write was applied). */
interface Fault {
	remaining: number;
	when: "before" | "after";
	error(): Error;
}

/** Counts the calls that reach each action on its node and throws the faults set for it. */
function FaultInjector(faults: Map<string, Fault>, reached: Map<string, number>) {
	return {
		name: "FaultInjector",
		localAction(handler: ActionHandler, action: ActionSchema) {
			const name = action.name as string;
			return async (ctx: Context) => {
				reached.set(name, (reached.get(name) ?? 0) + 1);
				const fault = faults.get(name);
				if (!fault || fault.remaining <= 0) return handler(ctx);
				fault.remaining--;
				if (fault.when === "after") await handler(ctx);
				throw fault.error();
			};
		}
	};
}

/** A database that broke for good (not a blip): a server-side failure, not worth retrying. */
const diskFailure = () => Object.assign(new Error("SQLITE_IOERR: disk I/O error"), { code: "SQLITE_IOERR" });
/** A connection dropped mid-call: transient, an idempotent read may simply try again. */
const connectionReset = () => Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });

/** Every service file except repo/users, so A's calls to repo.users go to B. */
function servicesWithoutRepoUsers(): string {
	const repo = fs
		.readdirSync(path.resolve(__dirname, "../../services/repo"))
		.filter(file => file.endsWith(".service.ts") && file !== "users.service.ts")
		.map(file => `repo/${file.replace(/\.service\.ts$/, "")}`);
	return ["gateway", "logic", ...repo].join(",");
}

/** Small enough for a test to see an open breaker close; the production value is CIRCUIT_HALF_OPEN_MS. */
const TEST_HALF_OPEN_MS = 300;

/** Node B of A's cluster, built like every GoChat broker plus the fault injector. */
async function startRepoUsersNode(
	a: RunningGoChat,
	injector: ReturnType<typeof FaultInjector>
): Promise<ServiceBroker> {
	const c = a.config;
	const config = loadConfig({
		PORT: "0",
		LOG_LEVEL: "warn",
		BCRYPT_ROUNDS: "4",
		JWT_SECRET: c.jwtSecret,
		NAMESPACE: c.namespace,
		NODE_ID: `${c.nodeId}-repo-users`,
		DATABASE_URL: c.databaseUrl,
		SERVICES: "repo/users",
		...(c.transporter ? { TRANSPORTER: c.transporter } : {}),
		...(c.redisUrl ? { REDIS_URL: c.redisUrl, REDIS_PREFIX: c.redisPrefix } : {}),
		...(c.queueUrl ? { QUEUE_URL: c.queueUrl } : {})
	});
	const options = createBrokerOptions(config);
	const broker = createBroker(config, {
		transporter: c.transporter ?? "Fake",
		logger: false,
		circuitBreaker: { ...options.circuitBreaker, halfOpenTime: TEST_HALF_OPEN_MS },
		middlewares: [...(options.middlewares ?? []), injector] as BrokerOptions["middlewares"]
	});
	await broker.start();
	return broker;
}

interface BreakerEvent {
	event: string;
	action: string;
}

describe("declared resilience across nodes", () => {
	const faults = new Map<string, Fault>();
	const reached = new Map<string, number>();
	const breakerEvents: BreakerEvent[] = [];
	let onBreakerEvent: () => void = () => undefined;
	let a: RunningGoChat;
	let b: ServiceBroker;
	let alice: Account;

	/** Resolves once A has announced `event` for `action` (events come from the breaker, not from time). */
	function breakerEvent(event: string, action: string, after = 0): Promise<void> {
		const seen = () => breakerEvents.slice(after).some(e => e.event === event && e.action === action);
		return new Promise(resolve => {
			if (seen()) return resolve();
			const previous = onBreakerEvent;
			onBreakerEvent = () => {
				previous();
				if (seen()) resolve();
			};
		});
	}

	beforeAll(async () => {
		a = await startGoChat({ SERVICES: servicesWithoutRepoUsers() }, { cluster: true });
		// startGoChat takes no broker options: A wraps B's actions when B joins, with the options as they are then.
		a.broker.options.circuitBreaker = { ...a.broker.options.circuitBreaker, halfOpenTime: TEST_HALF_OPEN_MS };
		await a.broker.createService({
			name: "breaker-watch",
			events: {
				"$circuit-breaker.*"(this: { broker: ServiceBroker }, ctx: Context<{ action: string }>) {
					if (ctx.nodeID !== this.broker.nodeID) return;
					breakerEvents.push({ event: ctx.eventName ?? "", action: ctx.params.action });
					onBreakerEvent();
				}
			}
		});
		b = await startRepoUsersNode(a, FaultInjector(faults, reached));
		await waitForServiceOn(a.broker, "repo.users", b.nodeID);
		alice = await register(new Api(a.baseUrl), "alice");
	});

	afterAll(async () => {
		await b?.stop();
		await a?.stop();
	});

	beforeEach(() => {
		faults.clear();
		reached.clear();
	});

	/** An ID nobody has: every read misses the profile cache and reaches repo.users.get. */
	const unknownUserId = () => String(BigInt(`0x${crypto.randomBytes(7).toString("hex")}`) + 1n);

	test("an idempotent read is retried on a transient failure and succeeds", async () => {
		faults.set("repo.users.get", { remaining: 1, when: "before", error: connectionReset });
		const bob = await register(new Api(a.baseUrl), "bob");
		reached.clear();
		const res = await alice.api.get(`/api/v1/users/${bob.user.id}`);
		expect([res.status, res.body.user?.id]).toEqual([200, bob.user.id]);
		expect(reached.get("repo.users.get")).toBe(2);
	});

	test("a write is not retried: it runs once and the caller gets the error", async () => {
		faults.set("repo.users.update", { remaining: 1, when: "after", error: connectionReset });
		const res = await alice.api.patch("/api/v1/users/me", { displayName: "Alice Once" });
		expect([res.status, res.body.error?.code]).toEqual([503, "SERVICE_UNAVAILABLE"]);
		expect(reached.get("repo.users.update")).toBe(1);
	});

	test("a repo service that keeps failing trips the breaker: fast 503 with retryAfter, and it closes once the service recovers", async () => {
		faults.set("repo.users.get", { remaining: Infinity, when: "before", error: diskFailure });
		const failures: number[] = [];
		let refusal: Reply | undefined;
		// The breaker opens after minRequestCount calls at a failure rate past its threshold.
		for (let i = 0; i < 100 && !refusal; i++) {
			const res = await alice.api.get(`/api/v1/users/${unknownUserId()}`);
			if (res.status === 503) refusal = res;
			else failures.push(res.status);
		}
		expect(refusal?.body.error).toEqual({
			code: "SERVICE_UNAVAILABLE",
			message: expect.any(String),
			details: { retryAfter: UNAVAILABLE_RETRY_AFTER_SECONDS }
		});
		expect(refusal?.headers.get("retry-after")).toBe(String(UNAVAILABLE_RETRY_AFTER_SECONDS));
		expect(new Set(failures)).toEqual(new Set([500]));
		expect(breakerEvents).toContainEqual({ event: "$circuit-breaker.opened", action: "repo.users.get" });

		// While open, callers are answered at once and the failing service is not called at all.
		const reachedWhenOpened = reached.get("repo.users.get");
		const latencies: number[] = [];
		for (let i = 0; i < 5; i++) {
			const started = performance.now();
			const res = await alice.api.get(`/api/v1/users/${unknownUserId()}`);
			latencies.push(performance.now() - started);
			expect([res.status, res.body.error.code]).toEqual([503, "SERVICE_UNAVAILABLE"]);
		}
		expect(Math.max(...latencies)).toBeLessThan(REQUEST_TIMEOUT_MS / 10);
		expect(reached.get("repo.users.get")).toBe(reachedWhenOpened);

		// Recovered: after the half-open time one trial call goes through, succeeds, and closes the breaker.
		faults.clear();
		const mark = breakerEvents.length;
		await breakerEvent("$circuit-breaker.half-opened", "repo.users.get", mark);
		const res = await alice.api.get(`/api/v1/users/${alice.user.id}`);
		expect([res.status, res.body.user?.id]).toEqual([200, alice.user.id]);
		await breakerEvent("$circuit-breaker.closed", "repo.users.get", mark);
	});
});

/**
 * Reads the broker may retry, named one by one: an action missing here must declare
 * `retryPolicy: NO_RETRY`, so a new write that forgets it fails this suite.
 */
const IDEMPOTENT_READS = [
	"api.docs",
	"api.getClients",
	"api.health",
	"api.listAliases",
	"api.openapi",
	"api.ready",
	"api.stats",
	"api.userSockets",
	"auth.resolveToken",
	"conversations.list",
	"groups.get",
	"groups.members",
	"messages.buildSync",
	"messages.history",
	"messages.stats",
	"messages.sync",
	"presence.query",
	"repo.conversations.get",
	"repo.conversations.listForUser",
	"repo.conversations.listForUserById",
	"repo.database.status",
	"repo.deadLetters.count",
	"repo.deadLetters.list",
	"repo.groups.get",
	"repo.groups.getMany",
	"repo.members.directPeers",
	"repo.members.get",
	"repo.members.list",
	"repo.members.role",
	"repo.messages.getMany",
	"repo.messages.hotCacheStats",
	"repo.messages.list",
	"repo.messages.stats",
	"repo.presence.locate",
	"repo.sessions.get",
	"repo.users.findCredentials",
	"repo.users.get",
	"repo.users.getMany",
	"repo.users.getOwn",
	"repo.users.idleGuests",
	"repo.users.searchByPrefix",
	"task.fanout.deadLetters",
	"task.fanout.stats",
	"users.get",
	"users.me",
	"users.search"
];

/** Every action of every service, private ones too (moleculer-web's api.rest carries every HTTP request). */
function allActions(broker: ServiceBroker): Array<{ name: string; action: Partial<ActionSchema> }> {
	return broker.services
		.filter(service => !service.fullName.startsWith("$"))
		.flatMap(service =>
			Object.entries(service.schema.actions ?? {})
				.filter(([, action]) => action !== false)
				.map(([key, action]) => {
					const schema = typeof action === "function" ? {} : (action as Partial<ActionSchema>);
					return { name: `${service.fullName}.${schema.name ?? key}`, action: schema };
				})
		);
}

describe("every action declares how the broker may retry it", () => {
	let gochat: RunningGoChat;
	let actions: Array<{ name: string; action: Partial<ActionSchema> }>;

	beforeAll(async () => {
		gochat = await startGoChat();
		actions = allActions(gochat.broker);
	});

	afterAll(() => gochat?.stop());

	test("an action the broker retries is a listed idempotent read; every other one has retryPolicy: NO_RETRY", () => {
		const retried = actions.filter(({ action }) => action.retryPolicy?.enabled !== false).map(({ name }) => name);
		expect(retried.filter(name => !IDEMPOTENT_READS.includes(name)).sort()).toEqual([]);
	});

	test("the list names only actions that exist", () => {
		const names = new Set(actions.map(({ name }) => name));
		expect(IDEMPOTENT_READS.filter(name => !names.has(name))).toEqual([]);
	});

	test("an action with its own fair bulkhead opts out of Moleculer's", () => {
		const fair = actions.filter(({ action }) => action.fairBulkhead);
		expect(fair.map(({ name }) => name)).toContain("messages.send");
		expect(fair.filter(({ action }) => action.bulkhead?.enabled !== false).map(({ name }) => name)).toEqual([]);
	});

	test("the HTTP entry (api.rest, one action for every request) is not one endpoint for the breaker or the bulkhead", () => {
		const rest = actions.find(({ name }) => name === "api.rest")?.action;
		expect([rest?.circuitBreaker?.enabled, rest?.bulkhead?.enabled]).toEqual([false, false]);
	});
});
