import type { ServiceBroker } from "moleculer";
// Hot reload finds the loaded services by walking the module tree from this file, and it skips the
// packages moleculer.config.ts imports: requiring moleculer here keeps the services within its reach.
import "moleculer";
import { Config, ConfigError, loadConfig } from "./lib/config";
import { healthPortOf } from "./lib/health/health-server";
import { shutdown } from "./lib/health/shutdown";
import { createBroker } from "./moleculer.config";

/**
 * The one entry point: `npm start` runs it compiled, `npm run dev` under ts-node with `--hot`
 * (reload a service when its file or a file it imports changes) and `--repl` (Moleculer's REPL).
 * Both build the broker with createBroker, so they run with the same options. SIGTERM and SIGINT
 * run GoChat's shutdown (drain, then broker.stop, within SHUTDOWN_TIMEOUT) instead of Moleculer's
 * handlers, which would stop the broker without draining; in the REPL, Ctrl-C twice or Ctrl-D stops it.
 */
async function main(argv: string[]): Promise<void> {
	let config: Config;
	let broker: ServiceBroker;
	try {
		config = loadConfig();
		// Building the broker checks settings too (a TRACING exporter whose package is missing).
		broker = createBroker(config, { hotReload: argv.includes("--hot"), skipProcessEventRegistration: true });
	} catch (err) {
		if (err instanceof ConfigError) {
			console.error(`GoChat cannot start: invalid configuration, ${err.message}`);
			process.exit(1);
		}
		throw err;
	}
	stopOnSignals(broker, config);

	if (config.jwtSecretSource === "generated") {
		broker.logger.warn(
			"JWT_SECRET is not set: generated one for this data directory. Set JWT_SECRET for real deployments."
		);
	}
	try {
		await broker.start();
	} catch (err) {
		broker.logger.fatal("GoChat failed to start:", err);
		await broker.stop().catch(() => undefined);
		process.exit(1);
	}
	printLine(config, startBanner(broker));
	if (argv.includes("--repl")) await broker.repl();
}

/**
 * The first SIGTERM or SIGINT shuts down (lib/health/shutdown.ts) and exits 0, or 1 when
 * something was still pending at SHUTDOWN_TIMEOUT, naming it; a second signal exits at once.
 */
function stopOnSignals(broker: ServiceBroker, config: Config): void {
	let stopping = false;
	const onSignal = (signal: NodeJS.Signals) => {
		if (stopping) {
			printLine(config, `GoChat: ${signal} again while stopping, exiting now`, "error");
			process.exit(1);
		}
		stopping = true;
		const timeoutMs = config.shutdownTimeoutSeconds * 1000;
		broker.logger.info(`${signal}: draining, then stopping (at most ${config.shutdownTimeoutSeconds} s)`);
		void shutdown(broker, timeoutMs).then(({ clean, elapsedMs, pending }) => {
			// The broker's logger stops with the broker: these last lines go to the console.
			if (clean) {
				printLine(config, `GoChat stopped in ${elapsedMs} ms`);
				process.exit(0);
			}
			printLine(config, `GoChat stopped after ${elapsedMs} ms with work pending: ${pending.join("; ")}`, "error");
			process.exit(1);
		});
	};
	process.on("SIGTERM", onSignal);
	process.on("SIGINT", onSignal);
}

/** A line for operators outside the broker's logger: with LOG_FORMAT=json a JSON object too. */
function printLine(config: Config, message: string, level: "info" | "error" = "info"): void {
	const line =
		config.logFormat === "json"
			? JSON.stringify({
					ts: Date.now(),
					level,
					msg: message,
					nodeID: config.nodeId,
					ns: config.namespace,
					mod: "server"
				})
			: message;
	if (level === "error") console.error(line);
	else console.log(line);
}

/** One line saying what this process runs, read from the started broker rather than the config. */
function startBanner(broker: ServiceBroker): string {
	const parts = broker as unknown as {
		transit?: { tx: object };
		cacher?: object;
		channelAdapter?: object;
	};
	const kind = (part: object | undefined) => part?.constructor.name ?? "none";
	// Moleculer's internal services ($node, the channels' $channel:…) are left out.
	const services = broker.services
		.map(service => service.fullName)
		.filter(name => !name.startsWith("$"))
		.sort();
	return [
		`GoChat started: node=${broker.nodeID}`,
		`namespace=${broker.namespace || "none"}`,
		`transporter=${kind(parts.transit?.tx)}`,
		`cacher=${kind(parts.cacher)}`,
		`queue=${kind(parts.channelAdapter)}`,
		`hotReload=${broker.options.hotReload ? "on" : "off"}`,
		`health=${healthPortOf(broker) ?? "off"}`,
		`services=${services.join(",")}`
	].join(" ");
}

main(process.argv.slice(2)).catch(err => {
	console.error(err);
	process.exit(1);
});
