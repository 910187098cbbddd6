import { BenchError } from "./util";

/** Command-line options of `npm run bench`: one mode flag at most, then numeric settings. */
export type Mode = "default" | "find-max" | "compare" | "overload" | "big-group";

export interface Options {
	mode: Mode;
	clients: number;
	/** Sends per second: the default mode's load, or the base of --overload (its capacity); unset there means "find it first". */
	rate?: number;
	/** Seconds of measured load: the default mode (20) or the --overload burst (30). */
	duration: number;
	/** Seconds of the same load before measuring: the first message of each conversation warms caches and sequences. */
	warmup: number;
	groupSize: number;
	groupShare: number;
	url?: string;
	/** --find-max: first rate, growth factor per step, highest rate and most steps tried, seconds per step, refinement steps. */
	start: number;
	factor: number;
	maxRate: number;
	maxSteps: number;
	stepDuration: number;
	stepWarmup: number;
	refine: number;
	/** The pass criterion: send-to-receive p99 below this many milliseconds, everything delivered. */
	p99: number;
	/** --overload: the burst is this many times the capacity. */
	overloadFactor: number;
	/** --big-group: members of the group, and how many messages are sent to it one at a time. */
	bigGroup?: number;
	messages: number;
}

const MODE_FLAGS: Record<string, Mode> = {
	"--compare": "compare",
	"--find-max": "find-max",
	"--overload": "overload",
	"--big-group": "big-group"
};
const NUMBERS = [
	"clients",
	"rate",
	"duration",
	"warmup",
	"groupSize",
	"groupShare",
	"start",
	"factor",
	"maxRate",
	"maxSteps",
	"stepDuration",
	"stepWarmup",
	"refine",
	"p99",
	"overloadFactor",
	"messages"
] as const;
type NumberKey = (typeof NUMBERS)[number];

export const USAGE = `usage: npm run bench -- [--compare | --find-max | --overload | --big-group N] [settings]
  modes       (none) fixed load and a report; --find-max rising rates until the criterion fails;
              --compare find-max on a bare Socket.IO relay and on GoChat; --overload 3x capacity, refusals
              and recovery; --big-group N one group of N members, time until the last socket has a message
  settings    --clients 1000 --rate 500 --duration 20 (overload: 30) --warmup 3 --group-size 10 --group-share 0.2
              --start 250 --factor 1.5 --max-rate 20000 --max-steps 12 --step-duration 10 --step-warmup 2 --refine 1
              --p99 50 --overload-factor 3 --messages 5 --url http://host:port (a GoChat already running)`;

/** A bad command line: printed as its message and the usage, without a stack. */
export class OptionsError extends BenchError {
	constructor(problem: string) {
		super(`${problem}\n${USAGE}`);
	}
}

const camel = (flag: string) => flag.replace(/^--/, "").replace(/-(\w)/g, (_, c: string) => c.toUpperCase());

function positive(name: string, raw: string | undefined): number {
	const value = Number(raw);
	if (raw === undefined || raw.startsWith("--") || !Number.isFinite(value) || value < 0)
		throw new OptionsError(`--${name} needs a number, got ${raw ?? "nothing"}`);
	return value;
}

export function parseOptions(argv: string[]): Options {
	const given: Partial<Options> = {};
	let mode: Mode = "default";
	for (let i = 0; i < argv.length; i++) {
		const flag = argv[i];
		if (flag in MODE_FLAGS) {
			if (mode !== "default") throw new OptionsError(`choose one mode: ${flag} and --${mode} together`);
			mode = MODE_FLAGS[flag];
			if (mode === "big-group") given.bigGroup = Math.floor(positive("big-group", argv[++i]));
			continue;
		}
		const key = camel(flag);
		if (key === "url") {
			given.url = argv[++i];
			if (!given.url || given.url.startsWith("--")) throw new OptionsError(`--url needs an address`);
			continue;
		}
		if (!(NUMBERS as readonly string[]).includes(key)) throw new OptionsError(`unknown option ${flag}`);
		given[key as NumberKey] = positive(flag.slice(2), argv[++i]);
	}
	if (mode === "big-group" && !(given.bigGroup! >= 2)) throw new OptionsError(`--big-group needs at least 2 members`);
	if (given.factor !== undefined && given.factor <= 1) throw new OptionsError(`--factor must be above 1`);
	return {
		mode,
		clients: 1000,
		rate: mode === "default" ? 500 : undefined,
		duration: mode === "overload" ? 30 : 20,
		warmup: 3,
		groupSize: 10,
		groupShare: 0.2,
		start: 250,
		factor: 1.5,
		maxRate: 20000,
		maxSteps: 12,
		stepDuration: 10,
		stepWarmup: 2,
		refine: 1,
		p99: 50,
		overloadFactor: 3,
		messages: 5,
		...given
	};
}
