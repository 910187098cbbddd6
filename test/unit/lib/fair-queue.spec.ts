import { FairQueue } from "../../../lib/fair-queue";

const drain = <T>(queue: FairQueue<T>): T[] => {
	const out: T[] = [];
	for (let item = queue.shift(); item !== undefined; item = queue.shift()) out.push(item);
	return out;
};

describe("FairQueue", () => {
	test("hands out one item per key in turn, each key's items in order", () => {
		const queue = new FairQueue<string>();
		for (const item of ["a1", "a2", "a3", "a4"]) queue.push("a", item);
		queue.push("b", "b1");
		queue.push("c", "c1");
		queue.push("b", "b2");
		expect([queue.size, queue.keys, queue.sizeOf("a"), queue.sizeOf("b"), queue.sizeOf("z")]).toEqual([
			7, 3, 4, 2, 0
		]);
		expect(drain(queue)).toEqual(["a1", "b1", "c1", "a2", "b2", "a3", "a4"]);
		expect([queue.size, queue.keys]).toEqual([0, 0]);
	});

	test("a key that arrives behind a long queue waits for one item of it, not all", () => {
		const queue = new FairQueue<string>();
		for (let i = 1; i <= 100; i++) queue.push("flood", `f${i}`);
		expect(queue.shift()).toBe("f1");
		queue.push("polite", "p1");
		expect([queue.shift(), queue.shift()]).toEqual(["f2", "p1"]);
		// A key emptied leaves the ring and joins at the back when it comes again.
		queue.push("polite", "p2");
		expect([queue.shift(), queue.shift()]).toEqual(["f3", "p2"]);
	});

	test("removeWhere takes items out of one key or all, keeping the others' turns and the counts", () => {
		const queue = new FairQueue<number>();
		[1, 2, 3, 4].forEach(n => queue.push("a", n));
		[10, 11].forEach(n => queue.push("b", n));
		queue.push("c", 20);
		expect(queue.removeWhere(n => n % 2 === 0, "a")).toEqual([2, 4]);
		expect([queue.size, queue.sizeOf("a"), queue.sizeOf("b")]).toEqual([5, 2, 2]);
		expect(queue.removeWhere(n => n >= 10)).toEqual([10, 11, 20]);
		expect([queue.size, queue.keys]).toEqual([2, 1]);
		expect(queue.removeWhere(() => true, "nobody")).toEqual([]);
		expect(drain(queue)).toEqual([1, 3]);
	});
});
