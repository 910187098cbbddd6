import { Context, Errors, ServiceBroker } from "moleculer";
import { ConfigError } from "../../../lib/config";
import { METRICS, recordAccepted, recordHotCacheRead, recordRefusal } from "../../../lib/metrics";
import {
	jsonLogFormatter,
	loggerOptions,
	metricsOptions,
	MetricsMiddleware,
	textLogFormatter,
	tracingOptions
} from "../../../lib/telemetry";
import { runWithRequestId } from "../../../middlewares/request-context.middleware";

const printArgs = (args: unknown[]) => args.map(a => (typeof a === "object" ? JSON.stringify(a) : a));
const bindings = { nodeID: "node-1", ns: "gochat", mod: "messages", svc: "messages" };
const json = (args: unknown[]) => JSON.parse(jsonLogFormatter.call({}, "info", args, bindings, { printArgs })[0]);

describe("tracingOptions", () => {
	const everything = () => true;

	test("TRACING unset leaves tracing off", () => {
		expect(tracingOptions({ tracing: null, tracingEndpoint: null }, everything)).toEqual({ enabled: false });
	});

	test.each([
		["Zipkin", { baseURL: "http://zipkin:9411" }],
		["Jaeger", { endpoint: "http://zipkin:9411" }],
		["Datadog", { agentUrl: "http://zipkin:9411" }]
	] as const)("%s sends its spans to TRACING_ENDPOINT", (tracing, options) => {
		expect(tracingOptions({ tracing, tracingEndpoint: "http://zipkin:9411" }, everything)).toEqual({
			enabled: true,
			exporter: [{ type: tracing, options }]
		});
	});

	test("without TRACING_ENDPOINT an exporter keeps its own default", () => {
		const options = tracingOptions({ tracing: "Zipkin", tracingEndpoint: null }, everything) as {
			exporter: Array<{ options: object }>;
		};
		expect(options.exporter[0].options).toEqual({});
	});

	test("Event batches spans each second; Console needs no package", () => {
		const nothing = () => false;
		expect(tracingOptions({ tracing: "Event", tracingEndpoint: null }, nothing)).toMatchObject({
			exporter: [{ type: "Event", options: { interval: 1 } }]
		});
		expect(tracingOptions({ tracing: "Console", tracingEndpoint: null }, nothing)).toMatchObject({
			enabled: true,
			exporter: [{ type: "Console" }]
		});
	});

	test.each([
		["Jaeger", "jaeger-client"],
		["Datadog", "dd-trace"],
		["Zipkin", "node-fetch"]
	] as const)("%s without the %s package fails with a ConfigError naming TRACING and the package", (tracing, pkg) => {
		const missing = (name: string) => name !== pkg;
		const build = () => tracingOptions({ tracing, tracingEndpoint: null }, missing);
		expect(build).toThrow(ConfigError);
		expect(build).toThrow(new RegExp(`^TRACING: .*"${pkg}".*npm install ${pkg}`));
	});

	test("the packages are looked up for real: node-fetch comes with Moleculer, jaeger-client is not installed", () => {
		expect(() => tracingOptions({ tracing: "Zipkin", tracingEndpoint: null })).not.toThrow();
		expect(() => tracingOptions({ tracing: "Jaeger", tracingEndpoint: null })).toThrow(/jaeger-client/);
	});
});

describe("metricsOptions", () => {
	test("the Prometheus reporter on METRICS_PORT, or metrics off", () => {
		expect(metricsOptions({ metricsPort: null, namespace: "" })).toEqual({ enabled: false });
		expect(metricsOptions({ metricsPort: 9100, namespace: "" })).toEqual({
			enabled: true,
			reporter: [{ type: "Prometheus", options: { port: 9100, path: "/metrics" } }]
		});
	});
});

describe("log formatters", () => {
	test("json: Moleculer's fields, plus the request ID of the work running now", () => {
		expect(json(["hello", { a: 1 }])).toEqual({
			ts: expect.any(Number),
			level: "info",
			msg: 'hello {"a":1}',
			...bindings
		});
		const line = runWithRequestId("req-1", () => json(["inside"]));
		expect(line).toMatchObject({ msg: "inside", requestId: "req-1" });
	});

	test("json: a line that names its request in an argument (Moleculer's own) carries it too", () => {
		expect(json(["The 'x' request is rejected.", { requestID: "req-2" }])).toMatchObject({ requestId: "req-2" });
	});

	test("text: [req=<id>] after the module when there is a request", () => {
		const line = runWithRequestId("req-3", () =>
			textLogFormatter.call({}, "warn", ["careful"], bindings, { printArgs }).join(" ")
		);
		expect(line).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}Z\] WARN +MESSAGES: \[req=req-3\] careful$/);
		expect(textLogFormatter.call({}, "warn", ["plain"], bindings, { printArgs }).join(" ")).not.toMatch(/req=/);
	});

	test("LOG_FORMAT picks the formatter, without colours for json", () => {
		const options = (loggerOptions({ logLevel: "info", logFormat: "json" }) as { options: Record<string, unknown> })
			.options;
		expect(options).toMatchObject({ level: "info", formatter: jsonLogFormatter, colors: false });
	});
});

describe("GoChat metrics", () => {
	const brokers: ServiceBroker[] = [];
	const broker = (metrics: boolean) => {
		const b = new ServiceBroker({ logger: false, metrics, middlewares: [MetricsMiddleware()] as never });
		brokers.push(b);
		return b;
	};
	afterAll(() => Promise.all(brokers.map(b => b.stop())));

	test("recording on a broker with metrics off does nothing and costs no registration", () => {
		const off = broker(false);
		expect(() => {
			recordAccepted(off, "direct");
			recordRefusal(off, "FORBIDDEN");
			recordHotCacheRead(off, true);
		}).not.toThrow();
		expect(off.metrics.getMetric(METRICS.MESSAGES_ACCEPTED)).toBeNull();
	});

	test("recording on a broker without GoChat's metrics registered does not throw", () => {
		const bare = new ServiceBroker({ logger: false, metrics: true });
		brokers.push(bare);
		expect(() => recordAccepted(bare, "world")).not.toThrow();
	});

	test("counters are listed at 0 from the start and count by label", () => {
		const on = broker(true);
		const value = (name: string, labels: Record<string, string> = {}) =>
			(on.metrics.getMetric(name)!.get(labels) as { value: number } | null)?.value;
		expect(value(METRICS.MESSAGES_ACCEPTED, { type: "group" })).toBe(0);
		expect(value(METRICS.FANOUT_DEAD_LETTERED)).toBe(0);
		recordAccepted(on, "group");
		recordRefusal(on, "OVERLOADED");
		recordRefusal(on, "OVERLOADED");
		recordHotCacheRead(on, false);
		expect(value(METRICS.MESSAGES_ACCEPTED, { type: "group" })).toBe(1);
		expect(value(METRICS.MESSAGES_REFUSED, { code: "OVERLOADED" })).toBe(2);
		expect(value(METRICS.HOT_CACHE_MISSES)).toBe(1);
	});

	test("onRefused hears every error of its action, also validation's, which never reaches the hooks", async () => {
		const on = broker(false);
		const refused: string[] = [];
		on.createService({
			name: "echo",
			actions: {
				say: {
					params: { text: "string" },
					onRefused(err: unknown) {
						refused.push((err as Error).name);
					},
					handler(ctx: Context<{ text: string }>) {
						if (ctx.params.text === "no") throw new Errors.MoleculerClientError("no", 403, "FORBIDDEN");
						return ctx.params.text;
					}
				}
			}
		});
		await on.start();
		await expect(on.call("echo.say", { text: 1 })).rejects.toThrow(Errors.ValidationError);
		await expect(on.call("echo.say", { text: "no" })).rejects.toThrow("no");
		await expect(on.call("echo.say", { text: "yes" })).resolves.toBe("yes");
		expect(refused).toEqual(["ValidationError", "MoleculerClientError"]);
	});
});
