// Builds the SDK: client/dist/index.mjs (ESM) and index.cjs (CJS) with esbuild, then the
// declarations with tsc (client/dist/types/...). Usage: node client/build.mjs
/* global process, console */
import { execFileSync } from "node:child_process";
import { readFileSync, rmSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

const clientDir = dirname(fileURLToPath(import.meta.url));
const dist = join(clientDir, "dist");
const require = createRequire(import.meta.url);

async function main() {
	rmSync(dist, { recursive: true, force: true });
	const common = {
		entryPoints: [join(clientDir, "src/index.ts")],
		bundle: true,
		// Runs in browsers and Node alike: no Node built-ins, no platform-specific resolution.
		platform: "neutral",
		target: "es2020",
		external: ["socket.io-client"],
		sourcemap: true,
		logLevel: "warning"
	};
	await build({ ...common, format: "esm", outfile: join(dist, "index.mjs") });
	await build({ ...common, format: "cjs", outfile: join(dist, "index.cjs") });
	execFileSync(process.execPath, [require.resolve("typescript/bin/tsc"), "-p", join(clientDir, "tsconfig.json")], {
		stdio: "inherit"
	});
	for (const file of ["index.mjs", "index.cjs"]) {
		const path = join(dist, file);
		const kb = bytes => `${(bytes / 1024).toFixed(1)} KB`;
		const gzipped = gzipSync(readFileSync(path)).length;
		console.log(`${relative(process.cwd(), path)}  ${kb(statSync(path).size)} (${kb(gzipped)} gzipped)`);
	}
}

main().catch(err => {
	// esbuild has printed its errors already; tsc's exit status says it printed its own.
	if (!err?.errors && err?.status === undefined) console.error(err);
	console.error("client build failed");
	process.exit(1);
});
