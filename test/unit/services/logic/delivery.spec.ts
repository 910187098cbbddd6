import { groupByNode } from "../../../../services/logic/delivery.service";

describe("groupByNode", () => {
	test("gathers each node's users, a user with two nodes on both", () => {
		const byNode = groupByNode({ u1: ["gw-a"], u2: ["gw-b", "gw-a"], u3: ["gw-b"] });
		expect(Object.fromEntries(byNode)).toEqual({ "gw-a": ["u1", "u2"], "gw-b": ["u2", "u3"] });
	});

	test("nobody online means no node to push to", () => {
		expect(groupByNode({}).size).toBe(0);
	});
});
