import { ActionSchema, Context, ServiceBroker, ServiceSchema } from "moleculer";
import { createChannelsMiddleware } from "../../lib/channels";
import { ConfigMiddleware, loadConfig } from "../../lib/config";
import type { ActionName, Params, Result } from "../../lib/contracts";
import { MetricsMiddleware } from "../../lib/telemetry";
import { ChannelRetryMiddleware } from "../../middlewares/channel-retry.middleware";

/** A stub answering one action: gets the params and the context the service under test sent. */
export type Mock<A extends ActionName> = (params: Params<A>, ctx: Context<Params<A>>) => Result<A> | Promise<Result<A>>;
export type Mocks = { [A in ActionName]?: Mock<A> };

export interface MockedCall {
	action: string;
	params: unknown;
	requestID: string | null;
}

export interface MockedService {
	broker: ServiceBroker;
	/** Every action call on the broker that passed validation, mocked or not, in order. */
	calls: MockedCall[];
	/** The params of the calls to one action, in order. */
	callsTo<A extends ActionName>(action: A): Params<A>[];
	/** Calls an action of the service as a logged-in user would (or as an operator, with no user). */
	call<A extends ActionName>(action: A, params: Params<A>, meta?: Record<string, unknown>): Promise<Result<A>>;
	stop(): Promise<void>;
}

export interface MockOptions {
	/** Environment variables of the service's config (loadConfig). */
	env?: Record<string, string>;
	/** The in-process queue and the retry middleware, for services that send to or listen on channels. */
	channels?: boolean;
	/** More services to run beside it (a probe listening on a channel). */
	extra?: Partial<ServiceSchema>[];
}

/**
 * Starts services on a broker of their own with `logger: false`, and answers every action they
 * call with a mock, so one service's rules are tested without the others. A call to an action
 * with no mock fails as a missing service would.
 */
export async function startWithMocks(
	services: ServiceSchema | ServiceSchema[],
	mocks: Mocks,
	options: MockOptions = {}
): Promise<MockedService> {
	// An in-memory database URL keeps loadConfig from writing a JWT secret file.
	const config = loadConfig({ DATABASE_URL: "sqlite::memory:", ...options.env });
	const calls: MockedCall[] = [];
	const recorder = {
		name: "CallRecorder",
		localAction(next: (ctx: Context) => Promise<unknown>, action: { name: string }) {
			return (ctx: Context) => {
				calls.push({ action: action.name, params: ctx.params, requestID: ctx.requestID });
				return next(ctx);
			};
		}
	};
	const middlewares: unknown[] = [recorder, ConfigMiddleware(config), MetricsMiddleware()];
	if (options.channels)
		middlewares.push(ChannelRetryMiddleware(), createChannelsMiddleware({ ...config, queueUrl: null }));
	const broker = new ServiceBroker({
		logger: false,
		namespace: config.namespace,
		middlewares: middlewares as ServiceBroker["options"]["middlewares"]
	});

	const byService = new Map<string, Record<string, ActionSchema>>();
	for (const [action, mock] of Object.entries(mocks) as [string, (params: unknown, ctx: Context) => unknown][]) {
		const dot = action.lastIndexOf(".");
		const [service, name] = [action.slice(0, dot), action.slice(dot + 1)];
		const actions = byService.get(service) ?? {};
		actions[name] = {
			visibility: "public",
			handler: (ctx: Context) => mock(ctx.params, ctx)
		};
		byService.set(service, actions);
	}
	for (const [name, actions] of byService) broker.createService({ name, actions } as ServiceSchema);
	for (const schema of options.extra ?? []) broker.createService(schema as ServiceSchema);
	for (const schema of Array.isArray(services) ? services : [services]) broker.createService(schema);
	await broker.start();

	return {
		broker,
		calls,
		callsTo: <A extends ActionName>(action: A) =>
			calls.filter(c => c.action === action).map(c => c.params as Params<A>),
		call: <A extends ActionName>(action: A, params: Params<A>, meta: Record<string, unknown> = {}) =>
			broker.call<Result<A>, Params<A>>(action, params, { meta }),
		stop: () => broker.stop()
	};
}
