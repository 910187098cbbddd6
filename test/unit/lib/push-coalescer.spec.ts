import { Push, PushCoalescer, PushTransport } from "../../../lib/push-coalescer";

function transport(located: Record<string, string[]>, gateways: string[] = [], failing: string[] = []) {
	const sent: Array<{ nodeId: string; pushes: Push[] }> = [];
	const lookups: string[][] = [];
	const t: PushTransport = {
		locate: async userIds => {
			lookups.push(userIds);
			return Object.fromEntries(userIds.filter(id => located[id]).map(id => [id, located[id]]));
		},
		gatewayNodes: () => gateways,
		send: async (nodeId, pushes) => {
			if (failing.includes(nodeId)) throw new Error("unreachable");
			sent.push({ nodeId, pushes });
		}
	};
	return { t, sent, lookups };
}

const message = (id: string, userIds: string[]): Push => ({ userIds, event: "message:new", payload: { id } });

describe("PushCoalescer", () => {
	test("pushes due together make one lookup and one call per node, each narrowed to that node's users", async () => {
		const { t, sent, lookups } = transport({ u1: ["gw-a"], u2: ["gw-b", "gw-a"], u3: ["gw-b"] });
		const coalescer = new PushCoalescer(t);
		const reports = await Promise.all([
			coalescer.deliver(message("m1", ["u1", "u2"])),
			coalescer.deliver(message("m2", ["u3", "u4"]))
		]);
		expect(lookups).toEqual([["u1", "u2", "u3", "u4"]]);
		expect(sent.map(s => s.nodeId).sort()).toEqual(["gw-a", "gw-b"]);
		const toA = sent.find(s => s.nodeId === "gw-a")!.pushes;
		const toB = sent.find(s => s.nodeId === "gw-b")!.pushes;
		expect(toA.map(p => [(p.payload as { id: string }).id, p.userIds])).toEqual([["m1", ["u1", "u2"]]]);
		expect(toB.map(p => [(p.payload as { id: string }).id, p.userIds])).toEqual([
			["m1", ["u2"]],
			["m2", ["u3"]]
		]);
		expect(reports).toEqual([
			{ nodes: 2, recipients: 2, failedNodes: 0 },
			{ nodes: 1, recipients: 1, failedNodes: 0 }
		]);
	});

	test("nobody online means no call at all", async () => {
		const { t, sent } = transport({});
		expect(await new PushCoalescer(t).deliver(message("m", ["u9"]))).toEqual({
			nodes: 0,
			recipients: 0,
			failedNodes: 0
		});
		expect(sent).toEqual([]);
	});

	test("a push to everyone goes to every gateway without a lookup", async () => {
		const { t, sent, lookups } = transport({}, ["gw-a", "gw-b"]);
		const report = await new PushCoalescer(t).deliver({
			userIds: [],
			everyone: true,
			event: "message:new",
			payload: {}
		});
		expect(lookups).toEqual([]);
		expect(sent.map(s => s.nodeId)).toEqual(["gw-a", "gw-b"]);
		expect(report.nodes).toBe(2);
	});

	test("a node that cannot be reached is reported to the pushes that needed it only", async () => {
		const { t } = transport({ u1: ["gw-a"], u2: ["gw-b"] }, [], ["gw-b"]);
		const coalescer = new PushCoalescer(t);
		const [one, two] = await Promise.all([
			coalescer.deliver(message("m1", ["u1"])),
			coalescer.deliver(message("m2", ["u2"]))
		]);
		expect([one.failedNodes, two.failedNodes]).toEqual([0, 1]);
	});
});
