import { AsyncLocalStorage } from "async_hooks";
import type { CallingOptions, Context, ServiceBroker } from "moleculer";

/**
 * The request ID of the work running now, for the log formatter (lib/telemetry.ts). Moleculer
 * carries ctx.requestID across nodes (transit) and @moleculer/channels across the queue (job
 * headers); this store carries it from the context to every log line written on its behalf,
 * including lines of code that never sees the ctx (moleculer-web, libraries, plain functions).
 */
const current = new AsyncLocalStorage<string>();

/** The request ID of the work running now, if it runs for a request. */
export function currentRequestId(): string | undefined {
	return current.getStore();
}

/**
 * Runs `work` as part of request `requestId`: its log lines carry the ID, and calls it makes with
 * broker.call (no parent ctx) continue the same request instead of starting a new one.
 */
export function runWithRequestId<T>(requestId: string, work: () => T): T {
	return current.getStore() === requestId ? work() : current.run(requestId, work);
}

type Handler = (ctx: Context, ...rest: unknown[]) => unknown;

function entering(next: Handler): Handler {
	return (ctx, ...rest) => {
		const requestId = ctx.requestID;
		if (!requestId || current.getStore() === requestId) return next(ctx, ...rest);
		return current.run(requestId, () => next(ctx, ...rest));
	};
}

interface TransitPacket {
	payload?: { requestID?: string };
}

/** Packet types that carry a request's work: a call (REQ) and an event (EVENT). */
const REQUEST_PACKETS = new Set(["REQ", "EVENT"]);

/**
 * Enters the request's ID wherever its work starts on this node: a packet from another node, a
 * root broker.call, a local action, event or channel handler (the last two also cover work that
 * arrives without a packet: local events, in-process channels, queued jobs, whose ctx the channels
 * middleware rebuilt from the job's headers). Off with LOG_REQUEST_IDS=false: AsyncLocalStorage's
 * promise hooks are the cost (docs/observability.md#logs-and-request-ids).
 */
export function RequestContextMiddleware(enabled = true) {
	if (!enabled) return { name: "RequestContext" };
	let broker: ServiceBroker;
	return {
		name: "RequestContext",

		created(b: ServiceBroker) {
			broker = b;
		},

		/** A root call made while a request is current continues it (the gateway's socket events, pushes). */
		call(next: (name: string, params?: unknown, opts?: CallingOptions) => Promise<unknown>) {
			return (name: string, params?: unknown, opts?: CallingOptions) => {
				if (opts?.parentCtx) return next(name, params, opts);
				const requestId = opts?.requestID ?? current.getStore() ?? broker.generateUid();
				return runWithRequestId(requestId, () => next(name, params, { ...opts, requestID: requestId }));
			};
		},

		transitMessageHandler(next: (cmd: string, packet: TransitPacket) => unknown) {
			return (cmd: string, packet: TransitPacket) => {
				const requestId = REQUEST_PACKETS.has(cmd) ? packet?.payload?.requestID : undefined;
				return requestId ? current.run(requestId, () => next(cmd, packet)) : next(cmd, packet);
			};
		},

		localAction: entering,
		localEvent: entering,
		localChannel: entering
	};
}
