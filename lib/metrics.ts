import type { ServiceBroker } from "moleculer";
import type { ConversationType } from "./types";

/**
 * GoChat's own metrics, beside Moleculer's. Moleculer names use dots; the Prometheus reporter
 * turns them into underscores (gochat.sockets.connected → gochat_sockets_connected) and adds the
 * nodeID and namespace labels, so "per node" needs no label of ours.
 * Each is registered once per broker (GoChatMetricsMiddleware); recording on a broker whose
 * metrics are off (METRICS_PORT unset) does nothing.
 */
export const METRICS = {
	/** Gauge: sockets connected to this gateway. */
	SOCKETS_CONNECTED: "gochat.sockets.connected",
	/** Counter: messages stored (label type: direct, group, world). */
	MESSAGES_ACCEPTED: "gochat.messages.accepted",
	/** Counter: sends refused (label code: RATE_LIMITED, FORBIDDEN, OVERLOADED, …). */
	MESSAGES_REFUSED: "gochat.messages.refused",
	/** Histogram, milliseconds: from a message:send arriving at the gateway to its ack leaving it. */
	SEND_ACK_LATENCY: "gochat.send.ack.latency",
	/** Counter: message pushes this gateway delivered to its sockets. */
	PUSHES: "gochat.pushes",
	/** Counters: history reads served from the hot cache, and those that went to SQL. */
	HOT_CACHE_HITS: "gochat.hotcache.hits",
	HOT_CACHE_MISSES: "gochat.hotcache.misses",
	/** Counters: fan-out jobs put on the durable queue, retried after a failure, dead-lettered. */
	FANOUT_QUEUED: "gochat.fanout.jobs.queued",
	FANOUT_RETRIED: "gochat.fanout.jobs.retried",
	FANOUT_DEAD_LETTERED: "gochat.fanout.jobs.deadlettered"
} as const;

export type MetricName = (typeof METRICS)[keyof typeof METRICS];

/** Latency buckets (ms) for the send→ack histogram: a healthy send acks in a few ms to tens of ms. */
export const SEND_ACK_BUCKETS_MS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000];

/** Registers every GoChat metric on the broker (no-op while its metrics are off). */
export function registerGoChatMetrics(broker: ServiceBroker): void {
	const metrics = broker.metrics;
	if (!broker.isMetricsEnabled()) return;
	metrics.register({
		name: METRICS.SOCKETS_CONNECTED,
		type: "gauge",
		description: "Sockets connected to this gateway"
	});
	metrics.register({
		name: METRICS.MESSAGES_ACCEPTED,
		type: "counter",
		labelNames: ["type"],
		description: "Messages stored"
	});
	metrics.register({
		name: METRICS.MESSAGES_REFUSED,
		type: "counter",
		labelNames: ["code"],
		description: "Sends refused, by error code"
	});
	metrics.register({
		name: METRICS.SEND_ACK_LATENCY,
		type: "histogram",
		unit: "millisecond",
		buckets: SEND_ACK_BUCKETS_MS,
		description: "From message:send arriving at the gateway to its ack"
	});
	metrics.register({ name: METRICS.PUSHES, type: "counter", description: "Message pushes delivered to sockets" });
	metrics.register({
		name: METRICS.HOT_CACHE_HITS,
		type: "counter",
		description: "History reads from the hot cache"
	});
	metrics.register({
		name: METRICS.HOT_CACHE_MISSES,
		type: "counter",
		description: "History reads the hot cache could not serve"
	});
	metrics.register({ name: METRICS.FANOUT_QUEUED, type: "counter", description: "Fan-out jobs queued" });
	metrics.register({ name: METRICS.FANOUT_RETRIED, type: "counter", description: "Fan-out jobs retried" });
	metrics.register({
		name: METRICS.FANOUT_DEAD_LETTERED,
		type: "counter",
		description: "Fan-out jobs dead-lettered"
	});
	// Counters start listed at 0 (Prometheus omits a metric with no value): "dead-lettered > 0" then
	// has a baseline, and a scrape shows every metric from the start.
	for (const type of CONVERSATION_TYPES) metrics.increment(METRICS.MESSAGES_ACCEPTED, { type }, 0);
	for (const name of ZERO_BASED_COUNTERS) metrics.increment(name, undefined, 0);
}

const CONVERSATION_TYPES: ConversationType[] = ["direct", "group", "world"];
const ZERO_BASED_COUNTERS: MetricName[] = [
	METRICS.PUSHES,
	METRICS.HOT_CACHE_HITS,
	METRICS.HOT_CACHE_MISSES,
	METRICS.FANOUT_QUEUED,
	METRICS.FANOUT_RETRIED,
	METRICS.FANOUT_DEAD_LETTERED
];

/*
 * Recording helpers: the one way services record GoChat metrics. Each costs a boolean check when
 * metrics are off (the send path is hot), and does nothing on a broker that never registered the
 * metric (a test broker built without GoChatMetricsMiddleware) instead of throwing.
 */

type MetricsHost = Pick<ServiceBroker, "isMetricsEnabled" | "metrics">;

interface RecordableMetric {
	increment?(labels?: Record<string, unknown>, value?: number): unknown;
	set?(value: number, labels?: Record<string, unknown>): unknown;
	observe?(value: number, labels?: Record<string, unknown>): unknown;
}

function metricOf(broker: MetricsHost, name: MetricName): RecordableMetric | null {
	if (!broker.isMetricsEnabled()) return null;
	return broker.metrics.getMetric(name) as RecordableMetric | null;
}

/** A message was stored (logic, after the store succeeded). */
export function recordAccepted(broker: MetricsHost, type: ConversationType): void {
	metricOf(broker, METRICS.MESSAGES_ACCEPTED)?.increment?.({ type }, 1);
}

/** A send was refused with this error code (logic, or the gateway for its own refusals). */
export function recordRefusal(broker: MetricsHost, code: string): void {
	metricOf(broker, METRICS.MESSAGES_REFUSED)?.increment?.({ code }, 1);
}

/** Milliseconds from a message:send arriving at the gateway to its ack leaving it. */
export function observeSendAck(broker: MetricsHost, ms: number): void {
	metricOf(broker, METRICS.SEND_ACK_LATENCY)?.observe?.(ms);
}

/** This gateway delivered n message pushes to its sockets. */
export function countPush(broker: MetricsHost, n = 1): void {
	if (n > 0) metricOf(broker, METRICS.PUSHES)?.increment?.(undefined, n);
}

/** Sockets now connected to this gateway. */
export function setSocketsConnected(broker: MetricsHost, n: number): void {
	metricOf(broker, METRICS.SOCKETS_CONNECTED)?.set?.(n);
}

/** A history read was served from the hot cache (hit) or had to go to SQL (miss). */
export function recordHotCacheRead(broker: MetricsHost, hit: boolean): void {
	metricOf(broker, hit ? METRICS.HOT_CACHE_HITS : METRICS.HOT_CACHE_MISSES)?.increment?.(undefined, 1);
}

/** n fan-out jobs were put on the durable queue. */
export function countFanoutQueued(broker: MetricsHost, n = 1): void {
	if (n > 0) metricOf(broker, METRICS.FANOUT_QUEUED)?.increment?.(undefined, n);
}

/** A fan-out job failed and was handed back for another try. */
export function countFanoutRetried(broker: MetricsHost): void {
	metricOf(broker, METRICS.FANOUT_RETRIED)?.increment?.(undefined, 1);
}

/** A fan-out job ran out of tries and was dead-lettered. */
export function countFanoutDeadLettered(broker: MetricsHost): void {
	metricOf(broker, METRICS.FANOUT_DEAD_LETTERED)?.increment?.(undefined, 1);
}
