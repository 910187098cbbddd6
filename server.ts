import type { ServiceBroker } from "moleculer";
// Hot reload finds the loaded services by walking the module tree from this file, and it skips the
// packages moleculer.config.ts imports: requiring moleculer here keeps the services within its reach.
import "moleculer";
import { Config, ConfigError, loadConfig } from "./lib/config";
import { createBroker } from "./moleculer.config";

/**
 * The one entry point: `npm start` runs it compiled, `npm run dev` under ts-node with `--hot`
 * (reload a service when its file or a file it imports changes) and `--repl` (Moleculer's REPL).
 * Both build the broker with createBroker, so they run with the same options. SIGINT and SIGTERM
 * stop the broker through Moleculer's own handlers; in the REPL, Ctrl-C twice or Ctrl-D does.
 */
async function main(argv: string[]): Promise<void> {
	let config: Config;
	try {
		config = loadConfig();
	} catch (err) {
		if (err instanceof ConfigError) {
			console.error(`GoChat cannot start: invalid configuration, ${err.message}`);
			process.exit(1);
		}
		throw err;
	}
	const broker = createBroker(config, { hotReload: argv.includes("--hot") });

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
	console.log(startBanner(broker));
	if (argv.includes("--repl")) await broker.repl();
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
		`services=${services.join(",")}`
	].join(" ");
}

main(process.argv.slice(2)).catch(err => {
	console.error(err);
	process.exit(1);
});
