import { execFileSync } from "child_process";
import path from "path";
import zlib from "zlib";
import { RunningGoChat, startGoChat } from "../helpers/gochat";

const ROOT = path.join(__dirname, "..", "..");
const BUDGET_BYTES = 150 * 1024;
const AUTH_TEST_IDS = [
	"auth-username",
	"auth-password",
	"auth-displayname",
	"auth-login",
	"auth-register",
	"auth-guest",
	"auth-error"
];

/** `npm run build:web`, with the build's own output in the failure. */
function buildWeb(): void {
	try {
		execFileSync(process.execPath, [path.join(ROOT, "web", "build.mjs")], { cwd: ROOT, stdio: "pipe" });
	} catch (err) {
		const { stdout, stderr } = err as { stdout?: Buffer; stderr?: Buffer };
		throw new Error(`node web/build.mjs failed:\n${stdout ?? ""}${stderr ?? ""}`);
	}
}

/** The page's own script and stylesheet, as index.html references them. */
function assetsOf(html: string): { js: string; css: string } {
	const js = /<script\b[^>]*\bsrc="([^"]+)"/.exec(html)?.[1];
	const css = /<link\b[^>]*\brel="stylesheet"[^>]*\bhref="([^"]+)"/.exec(html)?.[1];
	if (!js || !css) throw new Error(`index.html references no script or stylesheet:\n${html}`);
	return { js, css };
}

describe("the web chat served by the gateway at /", () => {
	let gochat: RunningGoChat;
	let html: string;

	beforeAll(async () => {
		buildWeb();
		gochat = await startGoChat();
		html = await (await fetch(`${gochat.baseUrl}/`)).text();
	}, 120_000);
	afterAll(() => gochat?.stop());

	test("GET / answers the built index.html", async () => {
		const res = await fetch(`${gochat.baseUrl}/`);
		expect(res.status).toBe(200);
		expect(res.headers.get("content-type")).toMatch(/^text\/html/);
		const body = await res.text();
		expect(body).toMatch(/^<!doctype html>/i);
		expect(body).toContain("<title>GoChat</title>");
	});

	test("the script and stylesheet index.html names answer with their content types", async () => {
		const { js, css } = assetsOf(html);
		const script = await fetch(new URL(js, `${gochat.baseUrl}/`));
		expect(script.status).toBe(200);
		expect(script.headers.get("content-type")).toMatch(/javascript/);
		expect((await script.text()).length).toBeGreaterThan(1000);
		const style = await fetch(new URL(css, `${gochat.baseUrl}/`));
		expect(style.status).toBe(200);
		expect(style.headers.get("content-type")).toMatch(/^text\/css/);
	});

	test("a deploy reaches browsers at once: the page is revalidated, its hashed script and stylesheet kept for good", async () => {
		const { js, css } = assetsOf(html);
		const cacheControl = async (url: string) =>
			(await fetch(new URL(url, `${gochat.baseUrl}/`))).headers.get("cache-control");
		expect(await cacheControl("/")).toBe("no-cache");
		expect(await cacheControl("/index.html")).toBe("no-cache");
		for (const asset of [js, css]) {
			expect(asset).toMatch(/-[A-Z0-9]{8}\.(js|css)$/);
			expect(await cacheControl(asset)).toBe("public, max-age=31536000, immutable");
		}
	});

	test("the page, its script and its stylesheet stay under 150 KB gzipped", async () => {
		const { js, css } = assetsOf(html);
		let total = 0;
		for (const url of ["/", js, css]) {
			const body = Buffer.from(await (await fetch(new URL(url, `${gochat.baseUrl}/`))).arrayBuffer());
			total += zlib.gzipSync(body).length;
		}
		expect(total).toBeLessThan(BUDGET_BYTES);
	});

	test("index.html holds the auth form's fields and buttons", () => {
		for (const id of AUTH_TEST_IDS) expect(html).toContain(`data-testid="${id}"`);
	});

	test("API routes still answer JSON, and a missing file is a 404", async () => {
		const api = await fetch(`${gochat.baseUrl}/api/v1/users/me`);
		expect(api.status).toBe(401);
		expect(api.headers.get("content-type")).toMatch(/json/);
		const missing = await fetch(`${gochat.baseUrl}/no-such-file.js`);
		expect(missing.status).toBe(404);
	});
});
