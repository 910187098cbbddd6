import type { CallingOptions, ServiceBroker } from "moleculer";
import type { ActionName, Params, Result } from "../../lib/contracts";

/**
 * A contract action called from the broker, typed like `call(ctx, ...)`: the gateway calls from
 * socket handshakes, socket events and timers, where no request context exists.
 */
export function callContract<A extends ActionName>(
	broker: ServiceBroker,
	action: A,
	params: Params<A>,
	opts?: CallingOptions
): Promise<Result<A>> {
	return broker.call(action, params, opts);
}
