import { ServiceBroker, ServiceSchema } from "moleculer";
import { ConfigMiddleware, loadConfig } from "../../../../lib/config";
import PresenceService from "../../../../services/logic/presence.service";

type Announcement = { userIds: string[]; event: string; payload: { userId: string; online: boolean } };

/** presence alone, with repo.presence kept in a map, 1:1 peers from a table and delivery recording what it was asked. */
describe("presence", () => {
	let broker: ServiceBroker;
	const nodesOf = new Map<string, Set<string>>();
	const peers: Record<string, string[]> = { ann: ["bob", "cid"], bob: ["ann"], cid: ["ann"], dan: [] };
	let told: Announcement[] = [];
	let refreshed: Array<{ nodeId: string; userIds: string[] }> = [];

	const online = (userId: string) => (nodesOf.get(userId)?.size ?? 0) > 0;
	const announced = () => told.map(({ userIds, payload }) => ({ to: userIds, ...payload }));

	beforeAll(async () => {
		broker = new ServiceBroker({ logger: false, middlewares: [ConfigMiddleware(loadConfig({}))] });
		broker.createService({
			name: "repo.presence",
			actions: {
				connect(ctx) {
					const { userId, nodeId } = ctx.params;
					const wasOnline = [...(nodesOf.get(userId) ?? [])].some(node => node !== nodeId);
					nodesOf.set(userId, (nodesOf.get(userId) ?? new Set()).add(nodeId));
					return { wasOnline };
				},
				disconnect(ctx) {
					nodesOf.get(ctx.params.userId)?.delete(ctx.params.nodeId);
					return { stillOnline: online(ctx.params.userId) };
				},
				refresh(ctx) {
					refreshed.push(ctx.params);
					return ctx.params.userIds.length;
				},
				checkpoint(ctx) {
					return { intact: ctx.params.mark === "m1", mark: "m2" };
				},
				removeNode(ctx) {
					const users = [...nodesOf.entries()]
						.filter(([, nodes]) => nodes.delete(ctx.params.nodeId))
						.map(([userId]) => userId);
					return users.filter(userId => !online(userId));
				}
			}
		});
		broker.createService({
			name: "repo.members",
			actions: { directPeers: ctx => peers[ctx.params.userId] ?? [] }
		});
		broker.createService({
			name: "delivery",
			actions: {
				toUsers(ctx) {
					told.push(ctx.params);
					return { recipients: ctx.params.userIds.length };
				}
			}
		});
		broker.createService(PresenceService as unknown as ServiceSchema);
		await broker.start();
	});
	afterAll(() => broker.stop());
	beforeEach(() => {
		nodesOf.clear();
		told = [];
		refreshed = [];
	});

	test("a user's first socket anywhere announces them online to their 1:1 peers; more sockets announce nothing", async () => {
		await broker.call("presence.connected", { userId: "ann", nodeId: "g1" });
		expect(announced()).toEqual([{ to: ["bob", "cid"], userId: "ann", online: true }]);
		await broker.call("presence.connected", { userId: "ann", nodeId: "g2" });
		await broker.call("presence.connected", { userId: "ann", nodeId: "g1" });
		expect(told).toHaveLength(1);
		expect(told[0].event).toBe("presence");
	});

	test("a user is announced offline only when no node holds them any more", async () => {
		await broker.call("presence.connected", { userId: "bob", nodeId: "g1" });
		await broker.call("presence.connected", { userId: "bob", nodeId: "g2" });
		told = [];
		await broker.call("presence.disconnected", { userId: "bob", nodeId: "g1" });
		expect(told).toEqual([]);
		await broker.call("presence.disconnected", { userId: "bob", nodeId: "g2" });
		expect(announced()).toEqual([{ to: ["ann"], userId: "bob", online: false }]);
	});

	test("a user without 1:1 peers is recorded and nobody is told", async () => {
		await broker.call("presence.connected", { userId: "dan", nodeId: "g1" });
		await broker.call("presence.disconnected", { userId: "dan", nodeId: "g1" });
		expect(told).toEqual([]);
	});

	test("a node that vanished: its users online nowhere else are announced offline", async () => {
		await broker.call("presence.connected", { userId: "ann", nodeId: "gone" });
		await broker.call("presence.connected", { userId: "bob", nodeId: "gone" });
		await broker.call("presence.connected", { userId: "bob", nodeId: "g2" });
		told = [];
		await broker.broadcastLocal("$node.disconnected", { node: { id: "gone" }, unexpected: true });
		await new Promise(resolve => setImmediate(resolve));
		expect(announced()).toEqual([{ to: ["bob", "cid"], userId: "ann", online: false }]);
		expect(online("bob")).toBe(true);
	});

	test("a gateway node that stops is forgotten the same way, and says how many went offline", async () => {
		await broker.call("presence.connected", { userId: "cid", nodeId: "g3" });
		await broker.call("presence.connected", { userId: "dan", nodeId: "g3" });
		told = [];
		expect(await broker.call("presence.nodeStopped", { nodeId: "g3" })).toBe(2);
		expect(announced()).toEqual([{ to: ["ann"], userId: "cid", online: false }]);
	});

	test("a heartbeat refreshes the node's users and announces nothing; a checkpoint answers from the store", async () => {
		expect(await broker.call("presence.heartbeat", { nodeId: "g1", userIds: ["ann", "bob"] })).toBe(2);
		expect(refreshed).toEqual([{ nodeId: "g1", userIds: ["ann", "bob"] }]);
		expect(told).toEqual([]);
		expect(await broker.call("presence.checkpoint", { nodeId: "g1", mark: "m1" })).toEqual({
			intact: true,
			mark: "m2"
		});
	});
});
