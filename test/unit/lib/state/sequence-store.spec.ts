import { SequenceStore } from "../../../../lib/state/sequence-store";
import { MemoryStateStore } from "../../../../lib/state/memory-state-store";

describe("SequenceStore", () => {
	test("counts up from the database's highest seq on a miss", async () => {
		const seeds: string[] = [];
		const seqs = new SequenceStore(new MemoryStateStore(), async id => {
			seeds.push(id);
			return 41;
		});
		expect(await seqs.next("c1")).toBe(42);
		expect(await seqs.next("c1")).toBe(43);
		expect(seeds).toEqual(["c1"]);
	});

	test("conversations count independently", async () => {
		const seqs = new SequenceStore(new MemoryStateStore(), async () => 0);
		expect(await seqs.next("a")).toBe(1);
		expect(await seqs.next("b")).toBe(1);
		expect(await seqs.next("a")).toBe(2);
	});

	test("concurrent first calls still hand out distinct, gapless numbers", async () => {
		const seqs = new SequenceStore(new MemoryStateStore(), async () => {
			await new Promise(resolve => setImmediate(resolve));
			return 10;
		});
		const got = await Promise.all(Array.from({ length: 50 }, () => seqs.next("hot")));
		expect([...got].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => 11 + i));
	});

	test("never goes back after the store is lost (a restart)", async () => {
		let stored = 0;
		const store = new MemoryStateStore();
		const seqs = new SequenceStore(store, async () => stored);
		for (let i = 0; i < 5; i++) stored = await seqs.next("c");
		const restarted = new SequenceStore(new MemoryStateStore(), async () => stored);
		expect(await restarted.next("c")).toBe(6);
	});
});
