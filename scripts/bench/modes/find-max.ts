import { capacity, judge, nextRate, StepOutcome } from "../capacity";
import { LoadDriver, Phase, randomPick } from "../load";
import { Options } from "../options";
import { pairsAndGroups } from "../population";
import { label, log, stepLine, figures } from "../report";
import { Target } from "../server";
import { sleep } from "../util";

/** A step's sends not answered within this long count as failed; a passing step answers in milliseconds. */
const STEP_ACK_TIMEOUT_MS = 10000;
/** The unmeasured run before the first step, at the first step's rate. */
const COLD_START_SECONDS = 5;
/** After a step's last ack, how long deliveries may pause before the missing ones count as lost. */
const STEP_DRAIN_QUIET_MS = 3000;

/** Registers the clients, sets up their conversations and connects them: the load every rate mode shares. */
export async function connectedLoad(target: Target, options: Options): Promise<LoadDriver> {
	const population = await pairsAndGroups(target, options.clients, options.groupSize);
	const driver = new LoadDriver(target.baseUrl, population);
	const connection = await driver.connect(100);
	log(
		`${label(`${target.name} connections`)}${connection.connected} of ${options.clients} in ${connection.seconds.toFixed(1)} s`
	);
	if (connection.failed > 0) {
		driver.close();
		throw new Error(
			`${connection.failed} of ${options.clients} sockets could not connect to ${target.name}: ${connection.firstError}`
		);
	}
	return driver;
}

export const criterion = (options: Options) =>
	`everything accepted and delivered, send-to-receive p99 < ${options.p99} ms`;

/**
 * Rising rates (see capacity.ts for the walk): each step is a warm-up and a measured run on the
 * same connected clients; prints one line per step and returns the highest rate that passed.
 */
export interface Found {
	capacity: number;
	/** Why the search ended: the lowest failing step's reason, or a bound. */
	stoppedBy: string;
}

export async function findMax(driver: LoadDriver, options: Options, name: string): Promise<Found> {
	const plan = {
		start: options.start,
		factor: options.factor,
		maxRate: options.maxRate,
		maxSteps: options.maxSteps,
		refine: options.refine
	};
	const pick = randomPick(driver.population, options.groupShare);
	log(
		`${name}: steps of ${options.stepWarmup} s warm-up + ${options.stepDuration} s measured; pass = ${criterion(options)}`
	);
	// Cold caches, a cold database and a cold JIT are not the capacity: one unmeasured run first.
	const coldStart = new Phase(options.start, STEP_ACK_TIMEOUT_MS);
	await driver.drive(coldStart, COLD_START_SECONDS, pick);
	driver.discard(coldStart);
	await driver.quiet(1000, 60000);
	const history: StepOutcome[] = [];
	const reasons = new Map<number, string>();
	for (let rate = nextRate(plan, history); rate !== null; rate = nextRate(plan, history)) {
		const warmup = new Phase(rate, STEP_ACK_TIMEOUT_MS);
		await driver.drive(warmup, options.stepWarmup, pick);
		const phase = new Phase(rate, STEP_ACK_TIMEOUT_MS);
		await driver.drive(phase, options.stepDuration, pick);
		await driver.settle(phase, STEP_DRAIN_QUIET_MS);
		const verdict = judge(figures(phase), options.p99);
		log(stepLine(phase, verdict.pass ? "pass" : `FAIL (${verdict.reason})`));
		history.push({ rate, pass: verdict.pass });
		if (!verdict.pass) reasons.set(rate, verdict.reason);
		driver.discard(warmup);
		driver.discard(phase);
		// Whatever a failed step left queued in the server must not land in the next step.
		await driver.quiet(1000, 60000);
		await sleep(500);
	}
	const found = capacity(history);
	const fails = [...reasons.keys()];
	const stoppedBy =
		fails.length > 0
			? `at ${Math.min(...fails)} msg/s: ${reasons.get(Math.min(...fails))}`
			: history.length >= options.maxSteps
				? `step cap (${options.maxSteps}) reached`
				: `--max-rate ${options.maxRate} reached`;
	log(`${label(`${name} capacity`)}${found > 0 ? `${found} msg/s` : "none: no step passed"} (stopped ${stoppedBy})`);
	return { capacity: found, stoppedBy };
}

export async function runFindMax(target: Target, options: Options): Promise<void> {
	log(
		`GoChat bench --find-max: ${options.clients} clients, ${Math.round(options.groupShare * 100)}% of sends to groups of ${options.groupSize}, against ${target.baseUrl}`
	);
	const driver = await connectedLoad(target, options);
	try {
		await findMax(driver, options, target.name);
	} finally {
		driver.close();
	}
}
