import path from "path";
import fs from "fs";
import os from "os";
import crypto from "crypto";
import type { Socket } from "socket.io-client";
import { lifecycleOf } from "../../lib/health/lifecycle";
import { shutdown } from "../../lib/health/shutdown";
import { PROBE_PATHS } from "../../lib/probes";
import { RunningGoChat, startGoChat } from "../helpers/gochat";
import { Api, register } from "../helpers/http";
import { childEnv, ensureBuild, freePort, GoChatProcess, startProcess } from "../helpers/processes";
import { serverSuite } from "../helpers/servers";
import { closeAll, connect, emitAck, nextEvent } from "../helpers/sockets";
import { until } from "../helpers/wait";

const probe = (port: number) => new Api(`http://127.0.0.1:${port}`);
const readyStatus = async (api: Api) => (await api.get(PROBE_PATHS.ready).catch(() => ({ status: 0 }))).status;

describe("probes on HEALTH_PORT", () => {
	let gochat: RunningGoChat;
	let healthPort: number;

	beforeAll(async () => {
		healthPort = await freePort();
		gochat = await startGoChat({ HEALTH_PORT: String(healthPort) });
	});
	afterAll(() => gochat.stop());

	test("a process with every role is alive and ready, and says what it checked", async () => {
		const health = await probe(healthPort).get("/health");
		expect(health.status).toBe(200);
		expect(health.body).toMatchObject({ status: "ok", nodeId: gochat.broker.nodeID });
		expect(health.body.uptimeSeconds).toEqual(expect.any(Number));
		const ready = await probe(healthPort).get("/ready");
		expect(ready.status).toBe(200);
		expect(ready.body).toMatchObject({
			status: "ready",
			nodeId: gochat.broker.nodeID,
			checks: { broker: "started", database: expect.stringMatching(/migrated/) },
			database: { migrated: true }
		});
	});

	test("the gateway's own /ready on PORT gives the same answer", async () => {
		const onPort = await new Api(gochat.baseUrl).get("/ready");
		const onHealthPort = await probe(healthPort).get("/ready");
		expect(onPort.status).toBe(200);
		expect(onPort.body).toEqual(onHealthPort.body);
	});

	test("anything else on HEALTH_PORT is a 404 in the API's error shape", async () => {
		const other = await probe(healthPort).get("/api/v1/users/me");
		expect([other.status, other.body.error.code]).toEqual([404, "ROUTE_NOT_FOUND"]);
		const post = await probe(healthPort).post("/ready");
		expect([post.status, post.body.error.code]).toEqual([404, "ROUTE_NOT_FOUND"]);
	});
});

describe("readiness of a role follows the roles it calls", () => {
	const nodes: RunningGoChat[] = [];
	afterAll(async () => {
		// The first node owns the database: it stops last.
		for (const node of nodes.reverse()) await node.stop();
	});

	test("logic alone answers alive but not ready, naming what it waits for, and is ready once repo and task run", async () => {
		const logicPort = await freePort();
		const logic = await startGoChat({ SERVICES: "logic", HEALTH_PORT: String(logicPort) }, { cluster: true });
		nodes.push(logic);
		expect((await probe(logicPort).get("/health")).status).toBe(200);
		const waiting = await probe(logicPort).get("/ready");
		expect([waiting.status, waiting.body.error.code]).toEqual([503, "SERVICE_UNAVAILABLE"]);
		expect(waiting.body.error.message).toMatch(/^Waiting for services: .*repo\.members.*repo\.users/);
		expect(waiting.body.error.message).toContain("task.fanout");
		expect(waiting.body.error.details.checks).toMatchObject({ broker: "started" });

		const repoPort = await freePort();
		const repo = await startGoChat({ SERVICES: "repo,task", HEALTH_PORT: String(repoPort) }, { join: logic });
		nodes.push(repo);
		// With etcd discovery (DISCOVERER) the nodes see each other a heartbeat later: wait, do not assume.
		await until(async () => (await readyStatus(probe(repoPort))) === 200, "repo and task to be ready", {
			timeoutMs: 30_000
		});
		const repoReady = await probe(repoPort).get("/ready");
		expect(repoReady.status).toBe(200);
		// A repo process checks its own database.
		expect(repoReady.body.checks.database).toMatch(/migrated/);
		await until(async () => (await readyStatus(probe(logicPort))) === 200, "logic to be ready", {
			timeoutMs: 30_000
		});
	}, 60_000);
});

describe("a draining gateway", () => {
	let gochat: RunningGoChat;
	let healthPort: number;
	let api: Api;
	const sockets: Socket[] = [];

	beforeAll(async () => {
		healthPort = await freePort();
		gochat = await startGoChat({ HEALTH_PORT: String(healthPort) });
		api = new Api(gochat.baseUrl);
	});
	afterAll(async () => {
		closeAll(sockets);
		// The test shut the broker down; this drops its database and keys.
		await gochat.stop();
	});

	test("is not ready on either port, refuses new requests and sockets with 503, and tells its clients", async () => {
		const alice = await register(api, "draining");
		const socket = await connect(gochat.baseUrl, alice.accessToken);
		sockets.push(socket);
		const told = nextEvent<{ reason: string; reconnectInMs: number }>(socket, "server:shutdown");
		const gone = new Promise<string>(resolve => socket.once("disconnect", resolve));

		// Another part of the process holds the drain open until the checks below are done.
		let release!: () => void;
		const held = new Promise<string[]>(resolve => (release = () => resolve([])));
		lifecycleOf(gochat.broker).onDrain("test", () => held);
		const stopping = shutdown(gochat.broker, 10_000);

		for (const port of [healthPort, Number(new URL(gochat.baseUrl).port)]) {
			const ready = await probe(port).get("/ready");
			expect([ready.status, ready.body.error.code]).toEqual([503, "SERVICE_UNAVAILABLE"]);
			expect(ready.body.error.message).toMatch(/shutting down/);
			expect((await probe(port).get("/health")).status).toBe(200);
		}
		const refused = await api.post("/api/v1/auth/login", { username: "x", password: "y" });
		expect([refused.status, refused.body.error.code]).toEqual([503, "SERVICE_UNAVAILABLE"]);
		expect(refused.headers.get("retry-after")).toBe("1");
		expect(refused.headers.get("connection")).toBe("close");
		await expect(connect(gochat.baseUrl, alice.accessToken)).rejects.toThrow();

		const notice = await told;
		expect(notice.reason).toBe("shutting-down");
		expect(notice.reconnectInMs).toBeGreaterThanOrEqual(0);
		expect(await gone).toBe("transport close");

		release();
		const outcome = await stopping;
		expect(outcome).toMatchObject({ clean: true, pending: [] });
		expect(gochat.broker.started).toBe(false);
	}, 30_000);
});

describe("SIGTERM on a GoChat process", () => {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gochat-probes-"));
	let gochat: GoChatProcess;
	const sockets: Socket[] = [];

	beforeAll(() => ensureBuild(), 180_000);
	afterAll(async () => {
		closeAll(sockets);
		await gochat?.stop();
		fs.rmSync(dir, { recursive: true, force: true });
	});

	test("with a socket connected, the client is told to reconnect and the process exits 0 within SHUTDOWN_TIMEOUT", async () => {
		const [port, healthPort] = [await freePort(), await freePort()];
		gochat = startProcess(
			["dist/server.js"],
			childEnv({
				PORT: String(port),
				HEALTH_PORT: String(healthPort),
				SHUTDOWN_TIMEOUT: "10",
				DATABASE_URL: `sqlite:${path.join(dir, "gochat.sqlite")}`
			})
		);
		const banner = await gochat.waitFor(/GoChat started/);
		expect(banner).toContain(`health=${healthPort}`);
		expect((await probe(healthPort).get("/ready")).status).toBe(200);
		const user = await register(new Api(`http://127.0.0.1:${port}`), "sigterm");
		const socket = await connect(`http://127.0.0.1:${port}`, user.accessToken);
		sockets.push(socket);
		const told = nextEvent(socket, "server:shutdown");
		const gone = new Promise<string>(resolve => socket.once("disconnect", resolve));
		// Awaited without the helper's stop(): a second SIGTERM would make the process exit at once, with 1.
		const exited = new Promise<number | null>(resolve => gochat.child.once("exit", resolve));

		const signalledAt = Date.now();
		gochat.child.kill("SIGTERM");
		await told;
		expect(await gone).toBe("transport close");
		expect(await exited).toBe(0);
		// The unacked notice alone holds the drain 2 s; a loaded machine needs room beyond that.
		expect(Date.now() - signalledAt).toBeLessThan(10_000);
		expect(gochat.output()).toMatch(/Draining: telling 1 socket\(s\) to reconnect elsewhere/);
		expect(gochat.output()).toMatch(/GoChat stopped in \d+ ms/);
	}, 60_000);
});

serverSuite("nats", "probes and SIGTERM across processes, one role each, over NATS", nats => {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gochat-roles-"));
	const shared = {
		TRANSPORTER: nats.url,
		NAMESPACE: `probes-${crypto.randomBytes(4).toString("hex")}`,
		JWT_SECRET: crypto.randomBytes(32).toString("hex"),
		DATABASE_URL: `sqlite:${path.join(dir, "gochat.sqlite")}`,
		SHUTDOWN_TIMEOUT: "8"
	};
	const processes: Record<string, GoChatProcess> = {};
	const ports: Record<string, number> = {};
	const sockets: Socket[] = [];

	async function start(role: string, extra: Record<string, string> = {}): Promise<Api> {
		ports[role] = await freePort();
		processes[role] = startProcess(
			["dist/server.js"],
			childEnv({
				...shared,
				...extra,
				SERVICES: role,
				HEALTH_PORT: String(ports[role]),
				NODE_ID: `${role}-${process.pid}`
			})
		);
		const api = probe(ports[role]);
		await until(
			async () => (await api.get("/health").catch(() => ({ status: 0 }))).status === 200,
			`${role} to be alive`,
			{ timeoutMs: 30_000 }
		);
		return api;
	}

	beforeAll(() => ensureBuild(), 180_000);
	afterAll(async () => {
		closeAll(sockets);
		for (const child of Object.values(processes)) {
			child.child.kill("SIGCONT");
			await child.stop();
		}
		fs.rmSync(dir, { recursive: true, force: true });
	});

	test("each role is alive at once and ready once the roles it calls are up", async () => {
		const logic = await start("logic");
		const started = async () => (await logic.get("/ready")).body.error?.details?.checks?.broker === "started";
		await until(started, "logic to start", { timeoutMs: 30_000 });
		const waiting = await logic.get("/ready");
		expect(waiting.status).toBe(503);
		expect(waiting.body.error.message).toMatch(/Waiting for services: .*repo\.members/);
		expect(waiting.body.error.details.checks.transporter).toBe("connected");

		const repo = await start("repo");
		const task = await start("task");
		const gatewayPort = await freePort();
		const gateway = await start("gateway", { PORT: String(gatewayPort) });
		ports.api = gatewayPort;
		for (const [role, api] of Object.entries({ repo, logic, task, gateway }))
			await until(async () => (await readyStatus(api)) === 200, `${role} to be ready`, { timeoutMs: 30_000 });
	}, 120_000);

	test("SIGTERM on a gateway turns /ready to 503 at once, still acks the send under way, and exits 0 in time", async () => {
		const baseUrl = `http://127.0.0.1:${ports.api}`;
		const user = await register(new Api(baseUrl), "roles");
		const socket = await connect(baseUrl, user.accessToken);
		sockets.push(socket);
		socket.on("server:shutdown", (_notice: unknown, ack?: () => void) => ack?.());

		// Logic frozen: the send waits in the gateway.
		processes.logic.child.kill("SIGSTOP");
		const sent = emitAck(socket, "message:send", {
			conversationId: "world",
			clientMsgId: "in-flight-1",
			type: "text",
			content: "sent while the gateway stops"
		});
		// Acked by the gateway alone, after the send (events arrive in order): the send is under way.
		await emitAck(socket, "no-such-event");

		const exited = new Promise<number | null>(resolve => processes.gateway.child.once("exit", resolve));
		const signalledAt = Date.now();
		const from = processes.gateway.output().length;
		processes.gateway.child.kill("SIGTERM");
		await processes.gateway.waitFor(
			/Draining: telling 1 socket\(s\) to reconnect elsewhere, 1 event\(s\) under way/,
			{
				from
			}
		);
		for (const port of [ports.gateway, ports.api]) {
			const ready = await probe(port).get("/ready");
			expect([ready.status, ready.body.error.code]).toEqual([503, "SERVICE_UNAVAILABLE"]);
		}

		processes.logic.child.kill("SIGCONT");
		const ack = await sent;
		expect(ack).toMatchObject({ ok: true, message: { clientMsgId: "in-flight-1" } });
		const code = await exited;
		if (code !== 0) console.log(processes.gateway.output().slice(from));
		expect(code).toBe(0);
		expect(Date.now() - signalledAt).toBeLessThan(8000);
	}, 60_000);
});
