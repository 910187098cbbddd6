import { Config, ConfigError, loadConfig } from "./lib/config";
import { createBroker } from "./moleculer.config";

/**
 * Starts GoChat: the services SERVICES selects (all four roles by default) in one broker.
 * `--hot` reloads changed service files, `--repl` opens the Moleculer REPL.
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
	const hot = argv.includes("--hot");
	const broker = createBroker(config, { hotReload: hot });

	if (config.jwtSecretSource === "generated") {
		broker.logger.warn("JWT_SECRET is not set: generated one for this data directory. Set JWT_SECRET for real deployments.");
	}
	try {
		await broker.start();
	} catch (err) {
		broker.logger.fatal("GoChat failed to start:", err);
		await broker.stop().catch(() => {});
		process.exit(1);
	}
	if (argv.includes("--repl")) await broker.repl();
}

main(process.argv.slice(2)).catch(err => {
	console.error(err);
	process.exit(1);
});
