import { performance } from "perf_hooks";
import { MIN_RATE } from "../capacity";
import { LoadDriver, Phase, randomPick, SendRecord } from "../load";
import { Options } from "../options";
import { RssSampler, rssMiB } from "../process";
import { Probe, recoveredAt } from "../recovery";
import { errorsLine, label, latencyLine, log, mib } from "../report";
import { Target } from "../server";
import { summarize } from "../stats";
import { sleep } from "../util";
import { connectedLoad, findMax } from "./find-max";

/** Sends of the burst get this long for an ack: an overloaded server that queues instead of refusing shows as slow acks, not timeouts. */
const BURST_ACK_TIMEOUT_MS = 60000;
/** After the burst: probes a second, how many consecutive ones must pass, and how long to wait for that at most. */
const PROBE_RATE = 20;
const PROBE_WINDOW = 20;
const RECOVERY_LIMIT_MS = 60000;
/** The goal for a refusal: it must come fast, or refusing does not protect anything. */
const REFUSAL_P99_GOAL_MS = 100;

/**
 * Probes at a low rate from the end of the burst until `PROBE_WINDOW` consecutive probes are acked
 * ok with p99 under the limit; returns the seconds that took, or null if not within the limit.
 */
async function timeToRecover(
	driver: LoadDriver,
	burstEnd: number,
	p99: number
): Promise<{ seconds: number | null; probes: Phase }> {
	const probes = new Phase(PROBE_RATE, RECOVERY_LIMIT_MS);
	const senders = driver.population.members.filter(m => m.direct);
	const sent: SendRecord[] = [];
	const toProbe = (r: SendRecord): Probe => ({ sentAt: r.sentAt, ackMs: r.ackMs, ok: r.status === "ok" });
	for (let n = 0; ; n++) {
		const due = burstEnd + (n * 1000) / PROBE_RATE;
		if (due - burstEnd > RECOVERY_LIMIT_MS) break;
		const wait = due - performance.now();
		if (wait > 0) await sleep(wait);
		const at = recoveredAt(sent.map(toProbe), PROBE_WINDOW, p99, performance.now());
		if (typeof at === "number") return { seconds: Math.max(0, at - burstEnd) / 1000, probes };
		const member = senders[n % senders.length];
		const record = driver.send(probes, member, member.direct!);
		if (record) sent.push(record);
	}
	const at = recoveredAt(sent.map(toProbe), PROBE_WINDOW, p99, Infinity);
	return { seconds: typeof at === "number" ? Math.max(0, at - burstEnd) / 1000 : null, probes };
}

/**
 * --overload: the capacity (found, or --rate), then `overloadFactor` times it for `duration`
 * seconds. Reports how the server refuses (OVERLOADED acks and how fast they come), whether any
 * accepted message went unpushed, its memory, and how long until normal service returns.
 */
export async function runOverload(target: Target, options: Options): Promise<void> {
	log(
		`GoChat bench --overload: ${options.clients} clients, ${Math.round(options.groupShare * 100)}% of sends to groups of ${options.groupSize}, against ${target.baseUrl}`
	);
	const driver = await connectedLoad(target, options);
	try {
		let base = options.rate;
		if (base === undefined) {
			const found = await findMax(driver, options, target.name);
			base = found.capacity > 0 ? found.capacity : MIN_RATE;
		}
		const rate = Math.round(base * options.overloadFactor);
		log(
			`${label("overload")}${options.overloadFactor} x ${base} msg/s = ${rate} msg/s for ${options.duration} s (${options.rate === undefined ? "capacity found above" : "--rate"})`
		);
		await driver.quiet(1000, 60000);

		const rssBefore = rssMiB(target.pid);
		const rss = new RssSampler(target.pid).start();
		const burst = new Phase(rate, BURST_ACK_TIMEOUT_MS);
		await driver.drive(burst, options.duration, randomPick(driver.population, options.groupShare));
		const burstEnd = performance.now();
		const recovery = await timeToRecover(driver, burstEnd, options.p99);
		await driver.settle(burst, 10000);
		await driver.settle(recovery.probes, 1000);
		const peak = rss.stop();
		const rssAfter = rssMiB(target.pid);

		log(`${label("sent")}${burst.sent} messages, ${(burst.sent / burst.sendSeconds).toFixed(0)} msg/s`);
		log(`${label("accepted")}${burst.accepted} messages, ${(burst.accepted / burst.sendSeconds).toFixed(0)} msg/s`);
		const retryAfter = summarize(burst.retryAfter);
		log(
			`${label("refused OVERLOADED")}${burst.refused} (${((100 * burst.refused) / Math.max(1, burst.sent)).toFixed(1)}% of sent)` +
				(burst.refused > 0
					? `; retryAfter p50 ${retryAfter.p50} s, max ${retryAfter.max} s, missing on ${burst.refusedWithoutRetryAfter}`
					: "")
		);
		log(`${latencyLine("refusal latency", burst.refusalMs)}  (goal p99 < ${REFUSAL_P99_GOAL_MS} ms)`);
		log(`${label("other failures")}${errorsLine(burst)}`);
		log(latencyLine("ack latency (accepted)", burst.ackMs));
		log(latencyLine("send-to-receive latency", burst.receiveMs));
		log(`${label("acked-but-unpushed")}${burst.ackedUnpushed} messages no recipient got (goal 0)`);
		log(`${label("lost")}${burst.lost} pushes owed for accepted messages`);
		log(`${label("duplicated")}${burst.duplicates}`);
		log(`${label("pushed though refused")}${burst.pushedWithout("refused")}`);
		log(
			`${label(`${target.name} RSS`)}${target.pid ? `before ${mib(rssBefore)}, peak ${mib(peak)}, after ${mib(rssAfter)}` : "n/a (remote server)"}`
		);
		log(
			`${label("recovery")}${
				recovery.seconds === null
					? `not within ${RECOVERY_LIMIT_MS / 1000} s`
					: `${recovery.seconds.toFixed(1)} s after the burst`
			} (${PROBE_WINDOW} probes in a row at ${PROBE_RATE}/s acked ok with p99 < ${options.p99} ms)`
		);
		driver.discard(burst);
		driver.discard(recovery.probes);
	} finally {
		driver.close();
	}
}
