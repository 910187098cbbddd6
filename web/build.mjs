/**
 * Builds the web chat into dist/web, which the gateway serves at /: type-checks web/ (DOM lib),
 * bundles src/main.ts (with the SDK, from source) and styles.css with esbuild under hashed names,
 * writes index.html pointing at them, and fails when the gzipped total passes the budget.
 * Usage: node web/build.mjs (from anywhere).
 */
import { execFileSync } from "node:child_process";
import console from "node:console";
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import zlib from "node:zlib";
import { build } from "esbuild";

const BUDGET_BYTES = 150 * 1024;
const webDir = path.dirname(fileURLToPath(import.meta.url));
const outDir = path.join(webDir, "..", "dist", "web");
const require = createRequire(import.meta.url);

function typeCheck() {
	const tsc = require.resolve("typescript/bin/tsc");
	execFileSync(process.execPath, [tsc, "-p", path.join(webDir, "tsconfig.json"), "--noEmit"], { stdio: "inherit" });
}

async function bundle() {
	const result = await build({
		entryPoints: [path.join(webDir, "src", "main.ts"), path.join(webDir, "styles.css")],
		outdir: outDir,
		entryNames: "[name]-[hash]",
		bundle: true,
		minify: true,
		sourcemap: "linked",
		target: "es2020",
		format: "iife",
		platform: "browser",
		metafile: true,
		logLevel: "warning"
	});
	const outputOf = source => {
		const [file] = Object.entries(result.metafile.outputs).find(
			([file, output]) =>
				output.entryPoint && path.resolve(output.entryPoint) === source && !file.endsWith(".map")
		);
		return path.basename(file);
	};
	return { js: outputOf(path.join(webDir, "src", "main.ts")), css: outputOf(path.join(webDir, "styles.css")) };
}

/** index.html names the plain files (readable in the source); the built one names the hashed ones. */
function writeIndex({ js, css }) {
	const source = fs.readFileSync(path.join(webDir, "index.html"), "utf8");
	const html = source.replace('href="styles.css"', `href="${css}"`).replace('src="main.js"', `src="${js}"`);
	if (!html.includes(css) || !html.includes(js)) throw new Error("index.html must link styles.css and main.js");
	fs.writeFileSync(path.join(outDir, "index.html"), html);
}

function reportSizes(files) {
	let total = 0;
	for (const file of files) {
		const size = zlib.gzipSync(fs.readFileSync(path.join(outDir, file)), { level: 9 }).length;
		total += size;
		console.log(`  ${file.padEnd(32)} ${(size / 1024).toFixed(1).padStart(6)} KB gzipped`);
	}
	console.log(
		`  ${"total".padEnd(32)} ${(total / 1024).toFixed(1).padStart(6)} KB gzipped (budget ${BUDGET_BYTES / 1024} KB)`
	);
	if (total > BUDGET_BYTES)
		throw new Error(`the web chat is ${total} bytes gzipped, over the ${BUDGET_BYTES} budget`);
}

try {
	typeCheck();
	fs.rmSync(outDir, { recursive: true, force: true });
	fs.mkdirSync(outDir, { recursive: true });
	const assets = await bundle();
	writeIndex(assets);
	console.log(`web chat built into ${path.relative(process.cwd(), outDir) || "."}:`);
	reportSizes(["index.html", assets.js, assets.css]);
} catch (err) {
	console.error(`web build failed: ${err.message}`);
	process.exitCode = 1;
}
