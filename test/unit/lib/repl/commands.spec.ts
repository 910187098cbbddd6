import crypto from "crypto";
import { ServiceBroker, ServiceSchema } from "moleculer";
import { ConfigMiddleware, loadConfig } from "../../../../lib/config";
import { Printable } from "../../../../lib/repl/cluster";
import { clusterStats } from "../../../../lib/repl/stats";
import { kickUser, whereOnline } from "../../../../lib/repl/users";
import { say, tailConversation } from "../../../../lib/repl/conversations";
import { dropDeadLetters, listDeadLetters, replayDeadLetters } from "../../../../lib/repl/dead-letters";
import { print, replCommands, runGochat } from "../../../../lib/repl";

/**
 * The commands against stub services spread over two nodes, run from a third node that hosts
 * nothing (as an operator's REPL may): per-node actions must reach every node.
 */
const namespace = `repl-${crypto.randomBytes(3).toString("hex")}`;
const calls: Array<{ action: string; nodeId: string; params: unknown }> = [];

function stub(name: string, actions: Record<string, (params: never, nodeId: string) => unknown>): ServiceSchema {
	return {
		name,
		actions: Object.fromEntries(
			Object.entries(actions).map(([action, answer]) => [
				action,
				{
					handler(this: { broker: ServiceBroker }, ctx: { params: unknown }) {
						calls.push({ action: `${name}.${action}`, nodeId: this.broker.nodeID, params: ctx.params });
						return answer(ctx.params as never, this.broker.nodeID);
					}
				}
			])
		)
	};
}

const message = (seq: number) => ({
	id: `m${seq}`,
	conversationId: "c1",
	senderId: "u1",
	type: "text",
	content: `hello ${seq}`,
	seq,
	clientMsgId: `k${seq}`,
	createdAt: "2026-01-01T00:00:00.000Z"
});

function gateway(sockets: number) {
	return stub("api", {
		stats: (_p, nodeId) => ({ nodeId, sockets, users: sockets - 1, pushesReceived: 0 }),
		disconnectUser: () => sockets
	});
}

const brokers: ServiceBroker[] = [];
let operator: ServiceBroker;

function node(nodeID: string, extra: object = {}): ServiceBroker {
	const broker = new ServiceBroker({ namespace, nodeID, transporter: "Fake", logger: false, ...extra });
	brokers.push(broker);
	return broker;
}

beforeAll(async () => {
	const one = node("gw-1");
	one.createService(gateway(3));
	one.createService(
		stub("messages", {
			stats: (_p, nodeId) => ({
				nodeId,
				accepted: 100,
				refused: 4,
				acceptedPerSecond: 12.5,
				refusedPerSecond: 0.5
			}),
			say: (params: { conversationId: string; text: string }) => ({
				...message(42),
				conversationId: params.conversationId,
				content: params.text,
				type: "system"
			})
		})
	);
	one.createService(
		stub("repo.messages", {
			hotCacheStats: () => ({ hits: 30, misses: 10 }),
			list: () => ({ messages: [message(9), message(8)], hasMore: true, bytes: 100 })
		})
	);
	const two = node("gw-2");
	two.createService(gateway(5));
	two.createService(
		stub("repo.messages", {
			hotCacheStats: () => ({ hits: 50, misses: 10 }),
			list: () => ({ messages: [], hasMore: false, bytes: 0 })
		})
	);
	two.createService(
		stub("repo.presence", {
			locate: (params: { userIds: string[] }) => ({ [params.userIds[0]]: ["gw-2", "gw-1"] })
		})
	);
	two.createService(stub("repo.sessions", { revokeForUser: () => ["s1", "s2"] }));
	two.createService(
		stub("task.fanout", {
			stats: (_p, nodeId) => ({ nodeId, messages: 7, batches: 3, deadLettered: 1, inFlight: 2 }),
			deadLetters: (params: { limit: number }) => ({
				total: 2,
				letters: [
					{
						id: "d1",
						channel: "fanout.batch",
						payload: {},
						error: "boom",
						attempts: 5,
						createdAt: "2026-01-01T00:00:00.000Z"
					}
				].slice(0, params.limit)
			}),
			replay: () => 2,
			drop: () => 2
		})
	);
	operator = node("operator", {
		middlewares: [ConfigMiddleware(loadConfig({ JWT_SECRET: "x".repeat(32), PAGE_MAX_BYTES: "65536" }))]
	});
	await Promise.all(brokers.map(b => b.start()));
	await operator.waitForServices([
		"api",
		"messages",
		"repo.messages",
		"repo.presence",
		"repo.sessions",
		"task.fanout"
	]);
	// Both gateways and both repo.messages nodes are known before the commands look for them.
	await new Promise<void>(resolve => {
		const seen = () =>
			new Set(
				(operator.registry.getServiceList({}) as unknown as Array<{ fullName: string; nodeID: string }>)
					.filter(s => s.fullName === "api")
					.map(s => s.nodeID)
			).size === 2;
		if (seen()) return resolve();
		operator.localBus.on("$services.changed", () => seen() && resolve());
	});
});

afterAll(() => Promise.all(brokers.map(b => b.stop())));
beforeEach(() => calls.splice(0));

const text = (out: Printable[]) =>
	out.map(item => (typeof item === "string" ? item : item.table.map(row => row.join(" | ")).join("\n"))).join("\n");

describe("gochat stats", () => {
	test("asks every gateway, logic, repo and task node for its own counters", async () => {
		const stats = await clusterStats(operator);
		expect(stats.gateways).toEqual([
			{ nodeId: "gw-1", result: { nodeId: "gw-1", sockets: 3, users: 2, pushesReceived: 0 } },
			{ nodeId: "gw-2", result: { nodeId: "gw-2", sockets: 5, users: 4, pushesReceived: 0 } }
		]);
		expect(stats.senders).toEqual([
			{ nodeId: "gw-1", result: expect.objectContaining({ acceptedPerSecond: 12.5, refusedPerSecond: 0.5 }) }
		]);
		expect(stats.hotCache).toEqual({ hits: 80, misses: 20, hitRatio: 0.8, failedNodes: [] });
		expect(stats.fanout).toEqual([{ nodeId: "gw-2", result: expect.objectContaining({ inFlight: 2 }) }]);
		expect(stats.deadLetters).toEqual({ total: 2 });
		expect(calls.find(c => c.action === "task.fanout.deadLetters")?.params).toEqual({ limit: 0 });
	});

	test("prints one row per node and the totals", async () => {
		const out = text(await runGochat(operator, ["stats"]));
		expect(out).toContain("gw-1 | 3 | 2");
		expect(out).toContain("gw-2 | 5 | 4");
		expect(out).toContain("gw-1 | 12.5 | 0.5 | 100 | 4");
		expect(out).toContain("Hot cache: 80.0% hits");
		expect(out).toContain("Dead letters kept: 2");
	});
});

describe("gochat online / kick", () => {
	test("online lists the nodes presence knows for the user", async () => {
		expect(await whereOnline(operator, "u1")).toEqual(["gw-1", "gw-2"]);
		expect(text(await runGochat(operator, ["online", "u1"]))).toContain("online on 2 node(s)");
	});

	test("kick ends the sessions, then disconnects the user on every gateway node", async () => {
		const report = await kickUser(operator, "u1");
		expect(report).toEqual({
			sessionsRevoked: 2,
			sockets: [
				{ nodeId: "gw-1", result: 3 },
				{ nodeId: "gw-2", result: 5 }
			]
		});
		expect(calls[0]).toMatchObject({ action: "repo.sessions.revokeForUser", params: { userId: "u1" } });
		expect(
			calls
				.slice(1)
				.map(c => [c.action, c.nodeId])
				.sort()
		).toEqual([
			["api.disconnectUser", "gw-1"],
			["api.disconnectUser", "gw-2"]
		]);
	});

	test("a missing argument prints the usage", async () => {
		expect(await runGochat(operator, ["kick"])).toEqual(["missing <userId>: gochat kick <userId>"]);
	});
});

describe("gochat tail / say", () => {
	test("tail asks for the last n messages without seq bounds, within the configured page size, oldest first", async () => {
		const messages = await tailConversation(operator, "c1", 2);
		expect(messages.map(m => m.seq)).toEqual([8, 9]);
		const listed = calls.filter(c => c.action === "repo.messages.list");
		expect(listed).toHaveLength(1);
		expect(listed[0].params).toEqual({ conversationId: "c1", limit: 2, maxBytes: 65536 });
	});

	test("tail takes 10 by default and refuses a bad count", async () => {
		await runGochat(operator, ["tail", "c1"]);
		expect(calls.find(c => c.action === "repo.messages.list")?.params).toMatchObject({ limit: 10 });
		expect(await runGochat(operator, ["tail", "c1", "zero"])).toEqual([
			'[n] must be a positive whole number, not "zero"'
		]);
	});

	test("say sends every word after the conversation as the text", async () => {
		expect((await say(operator, "c1", "maintenance at 5")).content).toBe("maintenance at 5");
		await runGochat(operator, ["say", "c1", "back", "soon"]);
		expect(calls.filter(c => c.action === "messages.say").map(c => c.params)).toEqual([
			{ conversationId: "c1", text: "maintenance at 5" },
			{ conversationId: "c1", text: "back soon" }
		]);
	});
});

describe("gochat dead", () => {
	test("lists the dead letters with their total, or replays or drops them all", async () => {
		expect((await listDeadLetters(operator, 1)).total).toBe(2);
		expect(await replayDeadLetters(operator)).toBe(2);
		expect(await dropDeadLetters(operator)).toBe(2);
		expect(text(await runGochat(operator, ["dead"]))).toContain("2 dead letter(s) (the first 1)");
		expect(
			calls
				.filter(c => c.action.startsWith("task.fanout.") && c.action !== "task.fanout.deadLetters")
				.map(c => [c.action, c.params])
		).toEqual([
			["task.fanout.replay", {}],
			["task.fanout.drop", {}]
		]);
		expect(await runGochat(operator, ["dead", "burn"])).toEqual(['unknown "burn": gochat dead [replay|drop]']);
	});
});

describe("the REPL command", () => {
	test("is one `gochat` command that hands every word to the subcommand and prints tables with the REPL's helper", async () => {
		const [command] = replCommands;
		const parsed: { args: string[]; params?: { words: string[] } } = { args: ["say", "c1", "hello", "--loud"] };
		command.parse(parsed);
		expect(parsed.params).toEqual({ words: ["say", "c1", "hello", "--loud"] });
		const printed: string[] = [];
		print(await runGochat(operator, ["online", "u1"]), { table: rows => `TABLE(${rows.length})` }, line =>
			printed.push(line)
		);
		expect(printed).toEqual(["User u1 is online on 2 node(s)", "TABLE(3)"]);
	});

	test("an unknown subcommand prints the list of commands", async () => {
		const out = text(await runGochat(operator, ["nope"]));
		for (const name of ["stats", "online", "tail", "kick", "say", "dead"]) expect(out).toContain(`gochat ${name}`);
	});
});
