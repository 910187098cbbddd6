import crypto from "crypto";
import { sqliteDatabase, TestDatabase } from "../helpers/gochat";
import { Api, register } from "../helpers/http";
import { childEnv, ensureBuild, freePort, GoChatProcess, startProcess } from "../helpers/processes";
import { until } from "../helpers/wait";

/** The lines written so far, without one the process may still be in the middle of writing. */
const completeLines = (output: string) =>
	output
		.split("\n")
		.slice(0, -1)
		.filter(line => line !== "");

/** One line of LOG_FORMAT=json output, as an operator's log shipper reads it. */
interface LogLine {
	ts: number;
	level: string;
	msg: string;
	nodeID: string;
	mod: string;
	requestId?: string;
}

describe("logs with LOG_FORMAT=json", () => {
	let database: TestDatabase;
	let gochat: GoChatProcess;
	let baseUrl: string;

	beforeAll(async () => {
		ensureBuild();
		database = await sqliteDatabase();
		const port = await freePort();
		gochat = startProcess(
			["dist/server.js"],
			childEnv({ DATABASE_URL: database.url, PORT: String(port), LOG_FORMAT: "json", LOG_LEVEL: "debug" })
		);
		await gochat.waitFor(/GoChat started/);
		baseUrl = `http://127.0.0.1:${port}`;
	}, 120_000);
	afterAll(async () => {
		await gochat?.stop();
		await database?.drop();
	});

	const lines = () => completeLines(gochat.output());

	test("every line is one JSON object with time, level, node, module and message", () => {
		const notJson = lines().filter(line => {
			try {
				const parsed = JSON.parse(line) as Partial<LogLine>;
				return !(
					typeof parsed.ts === "number" &&
					typeof parsed.level === "string" &&
					typeof parsed.msg === "string" &&
					typeof parsed.nodeID === "string" &&
					typeof parsed.mod === "string"
				);
			} catch {
				return true;
			}
		});
		expect(notJson).toEqual([]);
	});

	test("every line a world message's request logs, up to the task's push behind the queue, carries its request ID", async () => {
		const alice = await register(new Api(baseUrl), "alice");
		const requestId = `req-${crypto.randomBytes(6).toString("hex")}`;
		const from = gochat.output().length;
		const sent = await alice.api.request(
			"POST",
			"/api/v1/conversations/world/messages",
			{
				clientMsgId: "logged-1",
				type: "text",
				content: "hello, logs"
			},
			{ headers: { "x-request-id": requestId } }
		);
		expect(sent.status).toBe(200);
		expect(sent.headers.get("x-request-id")).toBe(requestId);
		const messageId = sent.body.message.id as string;
		// The task logs the push once the queued job ran.
		await gochat.waitFor(new RegExp(`Message ${messageId} of world: pushed`), { from, timeoutMs: 10_000 });
		// waitFor may see the line half written: read once it is whole.
		await until(
			() =>
				completeLines(gochat.output().slice(from)).some(line => line.includes(`Message ${messageId} of world`)),
			"the task's log line written whole"
		);

		const logged = completeLines(gochat.output().slice(from)).map(line => JSON.parse(line) as LogLine);
		const ofRequest = logged.filter(line => line.requestId === requestId);
		const messages = ofRequest.map(line => `${line.mod}: ${line.msg}`);
		// moleculer-web's own request and response lines, the REST call's action, and the task's line.
		expect(messages).toEqual(
			expect.arrayContaining([
				expect.stringMatching(/=> POST \/api\/v1\/conversations\/world\/messages/),
				expect.stringMatching(/<= .*200.* POST \/api\/v1\/conversations\/world\/messages/),
				expect.stringMatching(new RegExp(`Message ${messageId} of world: pushed to every gateway`))
			])
		);
		// No line about this message or this request is left without the request ID.
		const orphans = logged.filter(
			line =>
				line.requestId !== requestId &&
				(line.msg.includes(messageId) || line.msg.includes(requestId) || line.msg.includes("/world/messages"))
		);
		expect(orphans).toEqual([]);
	});
});
