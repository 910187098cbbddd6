import { execFile, execFileSync } from "child_process";
import fs from "fs";
import os from "os";
import path from "path";
import { promisify } from "util";
import { startGoChat, RunningGoChat } from "../helpers/gochat";

const run = promisify(execFile);
const root = path.resolve(__dirname, "../..");
const clientDir = path.join(root, "client");

/** What each consumer script prints: it signs in as a guest and lists conversations through the built package. */
const consumer = (load: string) => `
${load}
const chat = new GoChatClient({ baseUrl: process.env.GOCHAT_URL });
const user = await chat.guest("packaged");
const { conversations } = await chat.api.conversations.list({ limit: 10 });
const missing = await chat.api.users.get("0").catch(err => err);
await chat.logout();
console.log(JSON.stringify({
	guest: user.isGuest,
	listed: Array.isArray(conversations),
	error: missing instanceof GoChatError ? [missing.status, missing.code] : String(missing)
}));
`;

/**
 * The built package (node client/build.mjs) as its users get it: require() and import() in Node,
 * and its declarations type-checking a consumer under strict TypeScript.
 */
describe("the @gochat/client package", () => {
	let gochat: RunningGoChat;
	let consumerDir: string;

	beforeAll(async () => {
		execFileSync(process.execPath, [path.join(clientDir, "build.mjs")], { cwd: root, stdio: "pipe" });
		// A project that depends on the package, as npm would link it.
		consumerDir = fs.mkdtempSync(path.join(os.tmpdir(), "gochat-sdk-consumer-"));
		fs.mkdirSync(path.join(consumerDir, "node_modules/@gochat"), { recursive: true });
		fs.symlinkSync(clientDir, path.join(consumerDir, "node_modules/@gochat/client"), "dir");
		gochat = await startGoChat();
	}, 90_000);
	afterAll(async () => {
		fs.rmSync(consumerDir, { recursive: true, force: true });
		await gochat?.stop();
	});

	// The children talk to the server in this process: they must run asynchronously (execFile, not execFileSync).
	async function runScript(file: string, text: string): Promise<unknown> {
		fs.writeFileSync(path.join(consumerDir, file), text);
		const { stdout } = await run(process.execPath, [file], {
			cwd: consumerDir,
			env: { ...process.env, GOCHAT_URL: gochat.baseUrl },
			timeout: 20_000
		});
		return JSON.parse(stdout.trim().split("\n").at(-1)!);
	}

	const expected = { guest: true, listed: true, error: [404, "USER_NOT_FOUND"] };

	test("require() of the client folder (CJS) signs in as a guest and lists conversations", async () => {
		const script = `const { GoChatClient, GoChatError } = require(${JSON.stringify(clientDir)});
(async () => {${consumer("")}})().catch(err => { console.error(err); process.exit(1); });`;
		await expect(runScript("consumer.cjs", script)).resolves.toEqual(expected);
	});

	test('import("@gochat/client") (ESM) signs in as a guest and lists conversations', async () => {
		const script = consumer('const { GoChatClient, GoChatError } = await import("@gochat/client");');
		await expect(runScript("consumer.mjs", script)).resolves.toEqual(expected);
	});

	test("the declarations type the API for a strict TypeScript consumer, and catch a misuse", async () => {
		fs.writeFileSync(
			path.join(consumerDir, "good.ts"),
			`import { GoChatClient, GoChatError, type User } from "@gochat/client";
const chat = new GoChatClient({ baseUrl: "http://localhost:3000" });
export async function find(q: string): Promise<User[]> {
	const { users } = await chat.api.users.search(q, 5);
	return users;
}
export const notFound = (err: unknown): boolean => err instanceof GoChatError && err.code === "USER_NOT_FOUND";
`
		);
		fs.writeFileSync(
			path.join(consumerDir, "bad.ts"),
			`import { GoChatClient } from "@gochat/client";
const chat = new GoChatClient({ baseUrl: "http://localhost:3000" });
export const count: Promise<number> = chat.api.users.search("al").then(result => result.users);
`
		);
		const compilerOptions = {
			strict: true,
			noEmit: true,
			module: "node16",
			moduleResolution: "node16",
			target: "es2022",
			lib: ["es2022", "dom"],
			types: [],
			// Speed: the error below proves the package's types resolve (User[] comes from its declarations).
			skipLibCheck: true
		};
		fs.writeFileSync(
			path.join(consumerDir, "tsconfig.json"),
			JSON.stringify({ compilerOptions, files: ["good.ts", "bad.ts"] })
		);
		const tsc = path.join(root, "node_modules/typescript/bin/tsc");
		const output = await run(process.execPath, [tsc, "-p", "."], { cwd: consumerDir }).then(
			() => "",
			(err: { stdout: string }) => err.stdout
		);
		const errors = output.split("\n").filter(line => /error TS/.test(line));
		expect(errors).toEqual([
			expect.stringMatching(
				/^bad\.ts\(3,\d+\): error TS2322: Type 'Promise<number \| User\[\]>' is not assignable/
			)
		]);
	}, 30_000);
});
