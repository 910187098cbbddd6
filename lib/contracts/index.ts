import type { ActionSchema, CallingOptions, Context, ServiceActionsSchema, ServiceBroker } from "moleculer";
import type { GatewayActions } from "./gateway";
import type { LogicActions } from "./logic";
import type { RepoActions } from "./repo";
import type { TaskActions } from "./task";

/**
 * The shared contracts: every action called across services, with its params and result, so
 * ctx.call is checked. This folder imports nothing from services/.
 */
export interface ActionMap extends RepoActions, LogicActions, GatewayActions, TaskActions {}

export type ActionName = keyof ActionMap;
export type Params<A extends ActionName> = ActionMap[A]["params"];
export type Result<A extends ActionName> = ActionMap[A]["result"];

export function call<A extends ActionName>(
	ctx: Context,
	action: A,
	params: Params<A>,
	opts?: CallingOptions
): Promise<Result<A>> {
	return ctx.call(action, params, opts);
}

/** The same, from the broker: where no request context exists (socket handshakes, timers, REPL commands). */
export function callFrom<A extends ActionName>(
	broker: ServiceBroker,
	action: A,
	params: Params<A>,
	opts?: CallingOptions
): Promise<Result<A>> {
	return broker.call<Result<A>, Params<A>>(action, params, opts);
}

/** A fastest-validator rule, as the services write them. */
type Rule = string | { type: string; [option: string]: unknown } | readonly Rule[];

/** A params schema with exactly the contract's fields: a field added or dropped on one side only fails tsc. */
export type ParamsSchema<P> = { [K in keyof P]-?: Rule };

/** An action of service S as its contract says: declared params, and a handler taking and returning the contract's types. */
type ContractAction<A extends ActionName> = Omit<ActionSchema, "params" | "handler"> & {
	params: ParamsSchema<Params<A>>;
	// A property (not a method) signature, so tsc compares the handler's ctx strictly.
	handler: (this: never, ctx: Context<Params<A>, never>) => Result<A> | Promise<Result<A>>;
};

type ActionsOfService<S extends string> = {
	[A in ActionName as A extends `${S}.${infer N}` ? (N extends `${string}.${string}` ? never : N) : never]: A;
};

/**
 * The actions object of service S, checked against the contracts: write
 * `actions: { ... } satisfies ServiceActions<"repo.users">`. Actions a mixin supplies may be left out;
 * an action that is not in the contracts is an error.
 */
export type ServiceActions<S extends string> = {
	[N in keyof ActionsOfService<S>]?: ActionsOfService<S>[N] extends ActionName
		? ContractAction<ActionsOfService<S>[N]>
		: never;
};

/**
 * The actions object of service S, checked against the contracts:
 * `actions: serviceActions("repo.users", { ... })`. Actions a mixin supplies may be left out; an
 * action missing from the contracts, a params schema with other fields or a handler with other
 * types fails tsc.
 */
export function serviceActions<S extends string>(_service: S, actions: ServiceActions<S>): ServiceActionsSchema {
	return actions as ServiceActionsSchema;
}
