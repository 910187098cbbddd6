import { ChildProcess, spawn } from "child_process";
import fs from "fs";
import net from "net";
import os from "os";
import path from "path";
import { performance } from "perf_hooks";
import { io, Socket } from "socket.io-client";
import { formatSummary, summarize } from "./stats";

/**
 * `npm run bench`: starts GoChat in a child process (embedded unless the environment points it
 * at real servers), then from this process connects N Socket.IO clients that exchange messages
 * in 1:1 and group conversations at a set rate for a set time, and prints throughput, ack and
 * send-to-receive latency, losses, duplicates and the gateway's memory.
 *
 *   npm run bench -- --clients 1000 --rate 500 --duration 20 --group-size 10 --group-share 0.2
 */
interface Options {
	clients: number;
	rate: number;
	duration: number;
	/** Seconds of the same load before measuring: the first message of each conversation warms caches and sequences. */
	warmup: number;
	groupSize: number;
	groupShare: number;
	url?: string;
}

function parseOptions(argv: string[]): Options {
	const options: Options = { clients: 1000, rate: 500, duration: 20, warmup: 3, groupSize: 10, groupShare: 0.2 };
	for (let i = 0; i < argv.length; i += 2) {
		const [flag, value] = [argv[i], argv[i + 1]];
		const key = flag?.replace(/^--/, "").replace(/-(\w)/g, (_, c: string) => c.toUpperCase()) as keyof Options;
		if (!(key in options) && key !== "url") throw new Error(`unknown option ${flag} (use --clients, --rate, --duration, --warmup, --group-size, --group-share, --url)`);
		(options as unknown as Record<string, unknown>)[key] = key === "url" ? value : Number(value);
	}
	return options;
}

interface Client {
	userId: string;
	token: string;
	socket?: Socket;
	conversations: string[];
}

interface Sent {
	recipients: number;
	received: number;
}

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

async function freePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const server = net.createServer().listen(0, "127.0.0.1", () => {
			const { port } = server.address() as net.AddressInfo;
			server.close(() => resolve(port));
		});
		server.on("error", reject);
	});
}

async function http<T>(baseUrl: string, method: string, route: string, body?: unknown, token?: string): Promise<T> {
	const res = await fetch(baseUrl + route, {
		method,
		headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
		body: body === undefined ? undefined : JSON.stringify(body)
	});
	const json = await res.json();
	if (!res.ok) throw new Error(`${method} ${route}: ${res.status} ${JSON.stringify(json)}`);
	return json as T;
}

async function inBatches<T>(items: T[], size: number, fn: (item: T) => Promise<void>): Promise<void> {
	for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}

/** Starts the server from the compiled build on a free port, on a throwaway SQLite file unless DATABASE_URL is set. */
async function startServer(): Promise<{ baseUrl: string; child: ChildProcess; cleanup(): void }> {
	const port = await freePort();
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gochat-bench-"));
	const env = {
		...process.env,
		PORT: String(port),
		LOG_LEVEL: process.env.LOG_LEVEL ?? "warn",
		DATABASE_URL: process.env.DATABASE_URL ?? `sqlite:${path.join(dir, "bench.sqlite")}`
	};
	const child = spawn(process.execPath, [path.resolve(__dirname, "../../server.js")], { env, stdio: ["ignore", "inherit", "inherit"] });
	const baseUrl = `http://127.0.0.1:${port}`;
	for (let i = 0; i < 300; i++) {
		if (child.exitCode !== null) throw new Error(`GoChat exited with code ${child.exitCode}`);
		const ready = await fetch(`${baseUrl}/ready`).then(r => r.ok, () => false);
		if (ready) return { baseUrl, child, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
		await sleep(200);
	}
	throw new Error("GoChat did not become ready in 60 s");
}

function rssMiB(pid: number | undefined): number | null {
	if (!pid) return null;
	try {
		const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
		const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
		return kb / 1024;
	} catch {
		return null;
	}
}

async function main() {
	const options = parseOptions(process.argv.slice(2));
	const server = options.url ? null : await startServer();
	const baseUrl = options.url ?? server!.baseUrl;
	const log = (line: string) => console.log(line);
	log(`GoChat bench: ${options.clients} clients, ${options.rate} msg/s for ${options.duration} s after ${options.warmup} s of warm-up, ${Math.round(options.groupShare * 100)}% of sends to groups of ${options.groupSize}, against ${baseUrl}`);

	try {
		// Accounts: guests, so bcrypt does not dominate the setup.
		const clients: Client[] = [];
		await inBatches(Array.from({ length: options.clients }, (_, i) => i), 50, async i => {
			const auth = await http<{ user: { id: string }; accessToken: string }>(baseUrl, "POST", "/api/v1/auth/guest", { displayName: `bench ${i}` });
			clients[i] = { userId: auth.user.id, token: auth.accessToken, conversations: [] };
		});

		// Conversations: pairs for 1:1, consecutive blocks for groups.
		const directs: Array<[number, number]> = [];
		for (let i = 0; i + 1 < clients.length; i += 2) directs.push([i, i + 1]);
		await inBatches(directs, 50, async ([a, b]) => {
			const { conversation } = await http<{ conversation: { id: string } }>(baseUrl, "POST", "/api/v1/conversations/direct", { userId: clients[b].userId }, clients[a].token);
			clients[a].conversations.push(conversation.id);
			clients[b].conversations.push(conversation.id);
		});
		const groups: Array<{ id: string; members: number[] }> = [];
		for (let i = 0; i + options.groupSize <= clients.length; i += options.groupSize) {
			groups.push({ id: "", members: Array.from({ length: options.groupSize }, (_, k) => i + k) });
		}
		await inBatches(groups, 20, async group => {
			const [owner, ...rest] = group.members;
			const { group: created } = await http<{ group: { conversationId: string } }>(baseUrl, "POST", "/api/v1/groups",
				{ name: `bench ${owner}`, memberIds: rest.map(i => clients[i].userId) }, clients[owner].token);
			group.id = created.conversationId;
		});
		const groupOf = new Map<number, string>();
		for (const group of groups) for (const member of group.members) groupOf.set(member, group.id);
		const recipientsOf = (conversationId: string) => (conversationId.startsWith("group_") ? options.groupSize - 1 : 1);

		// Connections.
		const connectStart = performance.now();
		let connected = 0;
		const sent = new Map<string, Sent>();
		const receiveLatency: number[] = [];
		let duplicates = 0;
		let deliveries = 0;
		await inBatches(clients, 100, async client => {
			const socket = io(baseUrl, { auth: { token: client.token }, transports: ["websocket"], reconnection: false, forceNew: true });
			await new Promise<void>((resolve, reject) => {
				socket.once("connect", () => resolve());
				socket.once("connect_error", reject);
			});
			const seen = new Set<string>();
			socket.on("message:new", ({ message }: { message: { id: string; content: string } }) => {
				const now = performance.now();
				const { t: sentAt, measured } = JSON.parse(message.content) as { t: number; measured: boolean };
				if (!measured) return;
				if (seen.has(message.id)) {
					duplicates++;
					return;
				}
				seen.add(message.id);
				deliveries++;
				receiveLatency.push(now - sentAt);
				const record = sent.get(message.id);
				// A push can overtake the sender's ack: keep the count until the ack says how many to expect.
				if (record) record.received++;
				else sent.set(message.id, { recipients: 0, received: 1 });
			});
			client.socket = socket;
			connected++;
		});
		log(`connections established  ${connected} of ${clients.length} in ${((performance.now() - connectStart) / 1000).toFixed(1)} s`);

		// Load: a fixed rate of sends for the set time, first unmeasured (warm-up), then measured.
		const ackLatency: number[] = [];
		let accepted = 0;
		let failed = 0;
		let sequence = 0;
		let measuring = false;
		const drive = async (seconds: number) => {
			const total = Math.round(options.rate * seconds);
			const phaseStart = performance.now();
			const inFlight: Promise<void>[] = [];
			for (let n = 0; n < total; n++) {
				const wait = phaseStart + (n * 1000) / options.rate - performance.now();
				if (wait > 1) await sleep(wait);
				const index = Math.floor(Math.random() * clients.length);
				const client = clients[index];
				const toGroup = groupOf.has(index) && Math.random() < options.groupShare;
				const conversationId = toGroup ? groupOf.get(index)! : client.conversations[0];
				if (!conversationId || !client.socket) continue;
				const t = performance.now();
				const measured = measuring;
				inFlight.push(client.socket.timeout(30000).emitWithAck("message:send", {
					conversationId, clientMsgId: `b-${++sequence}`, type: "text", content: JSON.stringify({ t, measured })
				}).then((ack: { ok: boolean; message?: { id: string } }) => {
					if (!measured) return;
					ackLatency.push(performance.now() - t);
					if (!ack.ok || !ack.message) {
						failed++;
						return;
					}
					accepted++;
					const record = sent.get(ack.message.id);
					sent.set(ack.message.id, { recipients: recipientsOf(conversationId), received: record?.received ?? 0 });
				}, () => { if (measured) failed++; }));
			}
			await Promise.all(inFlight);
		};
		await drive(options.warmup);
		measuring = true;
		sent.clear();
		deliveries = 0;
		duplicates = 0;
		receiveLatency.length = 0;
		const start = performance.now();
		let peakRss = rssMiB(server?.child.pid) ?? 0;
		const rssTimer = setInterval(() => { peakRss = Math.max(peakRss, rssMiB(server?.child.pid) ?? 0); }, 500);
		await drive(options.duration);
		const sendSeconds = (performance.now() - start) / 1000;

		// Drain: wait until every expected delivery arrived, or 10 s of silence.
		const expected = () => [...sent.values()].reduce((sum, s) => sum + s.recipients, 0);
		let lastDeliveries = -1;
		let quietSince = performance.now();
		while (deliveries < expected() && performance.now() - quietSince < 10000) {
			if (deliveries !== lastDeliveries) {
				lastDeliveries = deliveries;
				quietSince = performance.now();
			}
			await sleep(50);
		}
		const elapsed = (performance.now() - start) / 1000;
		clearInterval(rssTimer);
		const lost = [...sent.values()].reduce((sum, s) => sum + Math.max(0, s.recipients - s.received), 0);

		log(`accepted                 ${accepted} messages, ${(accepted / sendSeconds).toFixed(0)} msg/s (${failed} refused or failed)`);
		log(`delivered                ${deliveries} pushes, ${(deliveries / elapsed).toFixed(0)} msg/s`);
		log(formatSummary("ack latency", summarize(ackLatency)));
		log(formatSummary("send-to-receive latency", summarize(receiveLatency)));
		log(`lost                     ${lost}`);
		log(`duplicated               ${duplicates}`);
		const rss = rssMiB(server?.child.pid);
		log(`gateway RSS              ${rss === null ? "n/a (remote server)" : `${rss.toFixed(0)} MiB at the end, ${peakRss.toFixed(0)} MiB peak`}`);
		for (const client of clients) client.socket?.close();
		if (lost > 0 || duplicates > 0 || failed > 0) process.exitCode = 1;
	} finally {
		if (server) {
			server.child.kill("SIGTERM");
			await new Promise(resolve => server.child.once("exit", resolve));
			server.cleanup();
		}
	}
}

main().catch(err => {
	console.error(err);
	process.exit(1);
});
