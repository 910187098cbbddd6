import { runBigGroup, openFilesFor } from "./modes/big-group";
import { runCompare } from "./modes/compare";
import { runDefault } from "./modes/default";
import { runFindMax } from "./modes/find-max";
import { runOverload } from "./modes/overload";
import { Options, parseOptions, USAGE } from "./options";
import { ensureOpenFiles } from "./process";
import { remoteGoChat, startGoChat, Target } from "./server";
import { BenchError } from "./util";

/**
 * `npm run bench`: starts GoChat in a child process (embedded unless the environment points it
 * at real servers), then drives it from this process with Socket.IO clients. Without a mode flag:
 * a fixed rate and a report (see README, Benchmark). `--help` lists the modes and settings.
 *
 *   npm run bench -- --clients 1000 --rate 500 --duration 20 --group-size 10 --group-share 0.2
 *   npm run bench -- --compare | --find-max | --overload | --big-group 10000
 */
const MODES: Record<Exclude<Options["mode"], "compare">, (target: Target, options: Options) => Promise<void>> = {
	default: runDefault,
	"find-max": runFindMax,
	overload: runOverload,
	"big-group": runBigGroup
};

/** The environment GoChat's child gets on top of this process's own. */
function childEnv(options: Options): Record<string, string> {
	if (options.mode !== "big-group") return {};
	const configured = Number(process.env.GROUP_MAX_MEMBERS) || 0;
	return { GROUP_MAX_MEMBERS: String(Math.max(configured, options.bigGroup!)) };
}

async function main() {
	if (process.argv.includes("--help")) return console.log(USAGE);
	const options = parseOptions(process.argv.slice(2));
	if (options.mode === "big-group") ensureOpenFiles(openFilesFor(options.bigGroup!));
	const start = () => (options.url ? Promise.resolve(remoteGoChat(options.url)) : startGoChat(childEnv(options)));
	if (options.mode === "compare") return runCompare(start, options);
	const target = await start();
	try {
		await MODES[options.mode](target, options);
	} finally {
		await target.stop();
	}
}

main().catch(err => {
	console.error(err instanceof BenchError ? err.message : err);
	process.exit(1);
});
