import { execFileSync } from "child_process";
import fs from "fs";
import path from "path";
import { Browser, chromium, Page } from "playwright-core";
import { PROJECT_ROOT, WEB_BUILD_DIR } from "../../lib/project-paths";

/**
 * Chromium from Debian, headless. Without the background-networking flags it keeps dialling
 * Google's hosts, which this machine's closed network refuses. launch() gives every browser a
 * fresh temporary profile and deletes it on close(), so runs share no storage.
 */
const FLAGS = [
	"--no-sandbox",
	"--disable-gpu",
	"--disable-quic",
	"--no-first-run",
	"--disable-background-networking",
	"--disable-component-update",
	"--disable-sync"
];

export function launchChromium(executablePath: string): Promise<Browser> {
	return chromium.launch({ executablePath, headless: true, args: FLAGS });
}

/** Builds web/ into dist/web, which the gateway serves at /: the test drives what users would get. */
export function buildWebChat(): void {
	try {
		execFileSync(process.execPath, [path.join(PROJECT_ROOT, "web", "build.mjs")], {
			cwd: PROJECT_ROOT,
			stdio: "pipe"
		});
	} catch (err) {
		// tsc reports type errors on stdout: show both streams, not just "Command failed".
		const { stdout, stderr } = err as { stdout?: Buffer; stderr?: Buffer };
		throw new Error(`node web/build.mjs failed:\n${stdout ?? ""}${stderr ?? ""}`);
	}
	if (!fs.existsSync(path.join(WEB_BUILD_DIR, "index.html")))
		throw new Error(`node web/build.mjs made no ${WEB_BUILD_DIR}/index.html`);
}

export const SCREENSHOT_DIR = path.join(PROJECT_ROOT, "test-results", "web-chat");

/** Saves test-results/web-chat/<name>.png (test-results/ is not committed). */
export async function screenshot(page: Page, name: string): Promise<void> {
	fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
	await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}.png`) });
}

export const WIDE = { width: 1280, height: 800 };
export const NARROW = { width: 375, height: 740 };
