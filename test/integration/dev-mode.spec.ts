import fs from "fs";
import os from "os";
import path from "path";
import type { Socket } from "socket.io-client";
import { Api, register } from "../helpers/http";
import { childEnv, freePort, GoChatProcess, ROOT, startProcess } from "../helpers/processes";
import { closeAll, connect, nextEvent } from "../helpers/sockets";

type NewMessage = { message: { conversationId: string; content: string } };

/**
 * `npm run dev` as a developer runs it, with no server: the broker has the options `npm start`
 * has (channels, cacher, namespace), the REPL answers on standard input, world messages are
 * pushed through the durable channel, and a changed service file is reloaded.
 */
describe("npm run dev", () => {
	const namespace = `dev-${process.pid}`;
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gochat-dev-"));
	const sockets: Socket[] = [];
	let dev: GoChatProcess;
	let baseUrl: string;
	let banner: string;

	/** The dev script of package.json, run with the ts-node of node_modules. */
	function devCommand(): string[] {
		const script = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")).scripts.dev as string;
		const [bin, ...args] = script.split(/\s+/);
		expect(bin).toBe("ts-node");
		return [require.resolve("ts-node/dist/bin"), ...args];
	}

	beforeAll(async () => {
		const port = await freePort();
		baseUrl = `http://127.0.0.1:${port}`;
		const env = childEnv({
			PORT: String(port),
			NAMESPACE: namespace,
			DATABASE_URL: `sqlite:${path.join(dir, "gochat.sqlite")}`
		});
		dev = startProcess(devCommand(), env);
		banner = await dev.waitFor(/GoChat started/, { timeoutMs: 80_000 });
	}, 90_000);

	afterAll(async () => {
		closeAll(sockets);
		await dev?.stop();
		fs.rmSync(dir, { recursive: true, force: true });
	});

	test("the start banner shows the broker npm start builds, with hot reload on", () => {
		expect(banner).toContain(`namespace=${namespace}`);
		expect(banner).toContain("transporter=none");
		expect(banner).toContain("cacher=MemoryCacher");
		// The channels middleware is in place: it attached its (in-process) queue adapter.
		expect(banner).toContain("queue=FakeAdapter");
		expect(banner).toContain("hotReload=on");
		expect(banner).toMatch(/services=.*\bapi\b.*\bmessages\b.*\brepo\.messages\b.*\btask\.fanout\b/);
	});

	test("the REPL answers on standard input", async () => {
		const from = dev.output().length;
		dev.type("info");
		await dev.waitFor(new RegExp(`Namespace\\s+: ${namespace}`), { from });
		await dev.waitFor(/Cacher\s+: MemoryCacher/, { from });
	});

	test("a world message is pushed to another user's socket through the durable channel", async () => {
		const api = new Api(baseUrl);
		const [sender, reader] = [await register(api, "devsender"), await register(api, "devreader")];
		const socket = await connect(baseUrl, reader.accessToken);
		sockets.push(socket);
		const arrival = nextEvent<NewMessage>(socket, "message:new", e => e.message.content === "hello from dev");
		const sent = await sender.api.post("/api/v1/conversations/world/messages", {
			clientMsgId: "dev-1",
			type: "text",
			content: "hello from dev"
		});
		expect(sent.status).toBe(200);
		expect((await arrival).message.conversationId).toBe("world");
		expect(dev.output()).not.toContain("sendToChannel is not a function");
	});

	test("touching a service file reloads that service, which then serves again", async () => {
		// The file's content is left as it is: only its times change, which is what the watcher sees.
		const file = path.join(ROOT, "services/logic/messages.service.ts");
		const from = dev.output().length;
		const now = new Date();
		fs.utimesSync(file, now, now);
		await dev.waitFor(/Hot reload 'messages' service/, { from });
		await dev.waitFor(/Service 'messages' started/, { from });

		const api = new Api(baseUrl);
		const [sender, reader] = [await register(api, "devsender2"), await register(api, "devreader2")];
		const socket = await connect(baseUrl, reader.accessToken);
		sockets.push(socket);
		const arrival = nextEvent<NewMessage>(socket, "message:new", e => e.message.content === "after the reload");
		const sent = await sender.api.post("/api/v1/conversations/world/messages", {
			clientMsgId: "dev-2",
			type: "text",
			content: "after the reload"
		});
		expect(sent.status).toBe(200);
		await arrival;
	});

	test("SIGTERM stops the broker, with clients still connected, and exits with 0", async () => {
		expect(sockets.some(socket => socket.connected)).toBe(true);
		expect(await dev.stop(10_000)).toBe(0);
		expect(dev.output()).toMatch(/ServiceBroker is stopped/);
	}, 20_000);
});
