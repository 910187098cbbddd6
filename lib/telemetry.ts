import { Tracing as ChannelsTracing } from "@moleculer/channels";
import type { ActionSchema, BrokerOptions, ServiceBroker } from "moleculer";
import path from "path";
import { currentRequestId } from "../middlewares/request-context.middleware";
import { type Config, ConfigError, type TracingExporter } from "./config";
import { registerGoChatMetrics } from "./metrics";

/**
 * Logs, metrics and tracing (docs/observability.md): each is chosen by the
 * environment and off, or plain, by default.
 */

/** What Moleculer hands a logger formatter: the logger's module (nodeID, ns, mod, svc, …). */
type LogBindings = Record<string, unknown> & { mod?: string };
/** The FormattedLogger a formatter function runs on (only what GoChat's formatters use). */
interface FormattingLogger {
	levelColorStr?: Record<string, string>;
}
type PrintArgs = (args: unknown[]) => unknown[];

/**
 * The request a log line belongs to: the one running now (middlewares/request-context), else one an
 * argument names (Moleculer's own "request is rejected" lines pass `{ requestID }`).
 */
export function requestIdOf(args: unknown[]): string | undefined {
	const running = currentRequestId();
	if (running) return running;
	for (const arg of args) {
		const named = (arg as { requestID?: unknown } | null)?.requestID;
		if (typeof arg === "object" && typeof named === "string") return named;
	}
	return undefined;
}

/** LOG_FORMAT=json: Moleculer's "json" line (ts, level, msg, nodeID, ns, mod, svc) plus requestId. */
export function jsonLogFormatter(
	this: FormattingLogger,
	type: string,
	args: unknown[],
	bindings: LogBindings,
	{ printArgs }: { printArgs: PrintArgs }
): string[] {
	const requestId = requestIdOf(args);
	return [
		JSON.stringify({
			ts: Date.now(),
			level: type,
			msg: printArgs(args).join(" "),
			...bindings,
			...(requestId ? { requestId } : {})
		})
	];
}

/** LOG_FORMAT=text: Moleculer's "short" line with `[req=<id>]` after the module when there is a request. */
export function textLogFormatter(
	this: FormattingLogger,
	type: string,
	args: unknown[],
	bindings: LogBindings,
	{ printArgs }: { printArgs: PrintArgs }
): unknown[] {
	const requestId = requestIdOf(args);
	const level = this.levelColorStr?.[type] ?? type.toUpperCase().padEnd(5);
	const prefix = [`[${new Date().toISOString().substring(11)}]`, level, `${(bindings.mod ?? "").toUpperCase()}:`];
	if (requestId) prefix.push(`[req=${requestId}]`);
	return [...prefix, ...printArgs(args)];
}

/** Console logs: one readable line per entry, or with LOG_FORMAT=json one JSON object per line; both name the request. */
export function loggerOptions(config: Pick<Config, "logLevel" | "logFormat">): BrokerOptions["logger"] {
	const json = config.logFormat === "json";
	return {
		type: "Console",
		options: {
			level: config.logLevel,
			formatter: json ? jsonLogFormatter : textLogFormatter,
			colors: !json && Boolean(process.stdout.isTTY)
		}
	};
}

/** Moleculer's metrics with the Prometheus reporter on METRICS_PORT; off when it is unset. */
export function metricsOptions(config: Pick<Config, "metricsPort" | "namespace">): BrokerOptions["metrics"] {
	if (config.metricsPort === null) return { enabled: false };
	return {
		enabled: true,
		reporter: [{ type: "Prometheus", options: { port: config.metricsPort, path: "/metrics" } }]
	};
}

/** The package each exporter needs beside Moleculer, which does not install them itself. */
export const TRACING_PACKAGES: Partial<Record<TracingExporter, string>> = {
	Jaeger: "jaeger-client",
	Datadog: "dd-trace",
	Zipkin: "node-fetch"
};

/** Whether `name` resolves from where Moleculer will require it. */
function installed(name: string): boolean {
	try {
		require.resolve(name, { paths: [path.dirname(require.resolve("moleculer")), process.cwd()] });
		return true;
	} catch {
		return false;
	}
}

/**
 * Moleculer's tracing with the exporter TRACING names; off when it is unset. TRACING_ENDPOINT is
 * where the exporter sends spans (Zipkin's base URL, Jaeger's HTTP collector, the Datadog agent);
 * without it each uses its own default. An exporter whose package is missing fails the start here
 * with a ConfigError naming the package, instead of Moleculer exiting from deep inside start().
 */
export function tracingOptions(
	config: Pick<Config, "tracing" | "tracingEndpoint">,
	isInstalled: (name: string) => boolean = installed
): BrokerOptions["tracing"] {
	const exporter = config.tracing;
	if (exporter === null) return { enabled: false };
	const needed = TRACING_PACKAGES[exporter];
	if (needed && !isInstalled(needed)) {
		throw new ConfigError(
			"TRACING",
			`the ${exporter} exporter needs the "${needed}" package: run \`npm install ${needed}\` or choose another exporter`
		);
	}
	const endpoint = config.tracingEndpoint;
	const options: Record<string, unknown> = {};
	if (exporter === "Zipkin" && endpoint) options.baseURL = endpoint;
	if (exporter === "Jaeger" && endpoint) options.endpoint = endpoint;
	if (exporter === "Datadog" && endpoint) options.agentUrl = endpoint;
	// Batches of finished spans as the local `$tracing.spans` event, each second: a collector service listens.
	if (exporter === "Event") options.interval = 1;
	if (exporter === "Console") options.colors = Boolean(process.stdout.isTTY);
	return { enabled: true, exporter: [{ type: exporter, options }] };
}

declare module "moleculer" {
	interface ActionSchema {
		/**
		 * Told of every error a call of this action ends with on this node, including those
		 * Moleculer's own middlewares raise around the handler (validation, bulkhead, timeout),
		 * which never reach the action's error hook.
		 */
		onRefused?: (this: never, err: unknown) => void;
	}
}

type ErrorHandler = (this: ServiceBroker, err: Error, info: { action?: ActionSchema; service?: unknown }) => unknown;

/**
 * Registers GoChat's own metrics on every broker (lib/metrics.ts), and calls the `onRefused` of
 * actions that declare one. That runs in Moleculer's global errorHandler, which its ErrorHandler
 * middleware calls outside validation, bulkhead and timeout; a handler set before is kept.
 */
export function MetricsMiddleware() {
	return {
		name: "GoChatMetrics",
		created(broker: ServiceBroker) {
			registerGoChatMetrics(broker);
			const options = broker.options as { errorHandler?: ErrorHandler };
			const previous = options.errorHandler;
			options.errorHandler = function (this: ServiceBroker, err, info) {
				const onRefused = info.action?.onRefused as ((err: unknown) => void) | undefined;
				if (onRefused) {
					try {
						onRefused.call(info.service, err);
					} catch (recordErr) {
						this.logger.warn(`Recording a refusal failed: ${(recordErr as Error).message}`);
					}
				}
				if (previous) return previous.call(this, err, info);
				throw err;
			};
		}
	};
}

/**
 * A span per queued job, child of the span that queued it: @moleculer/channels rebuilds the job's
 * ctx with the sender's requestID and parentID, but only this middleware of theirs traces it.
 * Without tracing on, it leaves the handlers as they are.
 */
export function ChannelTracingMiddleware(): ReturnType<typeof ChannelsTracing> {
	return ChannelsTracing();
}
