import { LoadDriver, Phase, randomPick } from "../load";
import { Options } from "../options";
import { pairsAndGroups } from "../population";
import { errorsLine, label, latencyLine, log } from "../report";
import { RssSampler, rssMiB } from "../process";
import { Target } from "../server";

const ACK_TIMEOUT_MS = 30000;

/** The fixed load of `npm run bench`: a report, and exit code 1 on any loss, duplicate or failed send. */
export async function runDefault(target: Target, options: Options): Promise<void> {
	const rate = options.rate!;
	log(
		`GoChat bench: ${options.clients} clients, ${rate} msg/s for ${options.duration} s after ${options.warmup} s of warm-up, ${Math.round(options.groupShare * 100)}% of sends to groups of ${options.groupSize}, against ${target.baseUrl}`
	);
	const population = await pairsAndGroups(target, options.clients, options.groupSize);
	const driver = new LoadDriver(target.baseUrl, population);
	try {
		const connection = await driver.connect(100);
		log(
			`${label("connections established")}${connection.connected} of ${options.clients} in ${connection.seconds.toFixed(1)} s${connection.firstError ? ` (first error: ${connection.firstError})` : ""}`
		);
		const pick = randomPick(population, options.groupShare);
		const warmup = new Phase(rate, ACK_TIMEOUT_MS);
		await driver.drive(warmup, options.warmup, pick);
		const phase = new Phase(rate, ACK_TIMEOUT_MS);
		const rss = new RssSampler(target.pid).start();
		await driver.drive(phase, options.duration, pick);
		await driver.settle(phase, 10000);
		const peak = rss.stop();
		driver.discard(warmup);

		const failed = phase.failed + phase.refused + phase.timedOut;
		log(
			`${label("accepted")}${phase.accepted} messages, ${(phase.accepted / phase.sendSeconds).toFixed(0)} msg/s (${failed} refused or failed)`
		);
		if (failed > 0)
			log(
				`${label("refused or failed")}${phase.refused > 0 ? `OVERLOADED ${phase.refused}, ` : ""}${errorsLine(phase)}`
			);
		log(
			`${label("delivered")}${phase.deliveries} pushes, ${(phase.deliveries / phase.elapsedSeconds).toFixed(0)} msg/s`
		);
		log(latencyLine("ack latency", phase.ackMs));
		log(latencyLine("send-to-receive latency", phase.receiveMs));
		log(`${label("lost")}${phase.lost}`);
		log(`${label("duplicated")}${phase.duplicates}`);
		const end = rssMiB(target.pid);
		log(
			`${label("gateway RSS")}${end === null ? "n/a (remote server)" : `${end.toFixed(0)} MiB at the end, ${peak.toFixed(0)} MiB peak`}`
		);
		if (phase.lost > 0 || phase.duplicates > 0 || failed > 0 || connection.failed > 0) process.exitCode = 1;
	} finally {
		driver.close();
	}
}
