import { LoadDriver, Phase } from "../load";
import { Options } from "../options";
import { oneGroup } from "../population";
import { rssMiB } from "../process";
import { label, log, mib } from "../report";
import { Target } from "../server";
import { summarize } from "../stats";
import { sleep } from "../util";

/** Sockets connecting at once: the handshake checks a token and reports presence each time. */
const CONNECT_CONCURRENCY = 200;
/** How long one message may take to reach every socket before the missing ones are counted. */
const MESSAGE_TIMEOUT_MS = 30000;
const GOAL_MS = 1000;

/** File descriptors the bench process needs for `size` sockets, with room for everything else. */
export const openFilesFor = (size: number) => size + 1024;

/**
 * --big-group N: one group of N members, every member connected, then `messages` messages sent one
 * at a time by the owner; for each, how long until the last of the other N-1 sockets had it.
 */
export async function runBigGroup(target: Target, options: Options): Promise<void> {
	const size = options.bigGroup!;
	log(
		`GoChat bench --big-group: ${size} members, ${options.messages} messages one at a time, against ${target.baseUrl}`
	);
	const population = await oneGroup(target, size, log);
	const [owner] = population.members;
	const driver = new LoadDriver(target.baseUrl, population);
	try {
		const connection = await driver.connect(CONNECT_CONCURRENCY);
		log(
			`${label("connections established")}${connection.connected} of ${size} in ${connection.seconds.toFixed(1)} s${connection.firstError ? ` (first error: ${connection.firstError})` : ""}`
		);
		if (connection.failed > 0 && connection.connected < 2)
			throw new Error(`only ${connection.connected} sockets connected`);
		const lastTimes: number[] = [];
		for (let i = 1; i <= options.messages; i++) {
			const phase = new Phase(1, MESSAGE_TIMEOUT_MS);
			const record = driver.send(phase, owner, owner.group!);
			if (!record) throw new Error("the owner's socket is not connected");
			await driver.settle(phase, MESSAGE_TIMEOUT_MS);
			const got = record.receivedBy.size;
			const ack =
				record.status === "ok" ? `acked in ${record.ackMs!.toFixed(0)} ms` : `not accepted (${record.status})`;
			const receive = summarize(phase.receiveMs);
			const last = record.lastReceivedAt === undefined ? NaN : record.lastReceivedAt - record.sentAt;
			if (got > 0) lastTimes.push(last);
			log(
				`${label(`message ${i}`)}${ack}; ${got} of ${record.expected} sockets, the last after ${Number.isNaN(last) ? "n/a" : `${last.toFixed(0)} ms`}` +
					` (first ${receive.count ? phase.receiveMs[0].toFixed(0) : "n/a"} ms, p50 ${receive.p50.toFixed(0)} ms, p99 ${receive.p99.toFixed(0)} ms)` +
					(phase.duplicates > 0 ? `, ${phase.duplicates} duplicates` : "")
			);
			driver.discard(phase);
			await sleep(1000);
		}
		const worst = lastTimes.length > 0 ? Math.max(...lastTimes) : NaN;
		log(
			`${label("time to the last socket")}max ${Number.isNaN(worst) ? "n/a" : `${worst.toFixed(0)} ms`} over ${lastTimes.length} messages (goal <= ${GOAL_MS} ms)`
		);
		log(`${label(`${target.name} RSS`)}${target.pid ? mib(rssMiB(target.pid)) : "n/a (remote server)"}`);
	} finally {
		driver.close();
	}
}
