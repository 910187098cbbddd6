import { compareIds, MAX_WORKER_ID, parseSnowflake, SNOWFLAKE_EPOCH, SnowflakeGenerator } from "../../../lib/snowflake";

describe("SnowflakeGenerator", () => {
	test("packs timestamp, worker and sequence into 64 bits", () => {
		const now = SNOWFLAKE_EPOCH + 123456;
		const id = new SnowflakeGenerator(42, () => now).next();
		expect(parseSnowflake(id)).toEqual({ timestamp: now, workerId: 42, sequence: 0 });
		expect(BigInt(id) < 2n ** 63n).toBe(true);
	});

	test("IDs are decimal strings, strictly increasing within and across milliseconds", () => {
		let now = SNOWFLAKE_EPOCH + 1000;
		const gen = new SnowflakeGenerator(1, () => now);
		const ids: string[] = [];
		for (let i = 0; i < 10000; i++) {
			if (i % 3000 === 0) now++;
			ids.push(gen.next());
		}
		for (const id of ids) expect(id).toMatch(/^\d+$/);
		for (let i = 1; i < ids.length; i++) expect(compareIds(ids[i - 1], ids[i])).toBe(-1);
	});

	test("more than 4096 IDs in one millisecond borrow the next millisecond instead of repeating", () => {
		const gen = new SnowflakeGenerator(7, () => SNOWFLAKE_EPOCH + 5);
		const ids = Array.from({ length: 5000 }, () => gen.nextBigInt());
		expect(new Set(ids).size).toBe(5000);
		expect(parseSnowflake(ids[4096])).toEqual({ timestamp: SNOWFLAKE_EPOCH + 6, workerId: 7, sequence: 0 });
	});

	test("a clock that goes backwards never yields a duplicate or a smaller ID, and is reported", () => {
		let now = SNOWFLAKE_EPOCH + 10000;
		const drifts: number[] = [];
		const gen = new SnowflakeGenerator(
			3,
			() => now,
			drift => drifts.push(drift)
		);
		const before = gen.nextBigInt();
		now -= 2000;
		const during = [gen.nextBigInt(), gen.nextBigInt()];
		now += 2500;
		const after = gen.nextBigInt();
		expect(before < during[0] && during[0] < during[1] && during[1] < after).toBe(true);
		expect(drifts[0]).toBe(2000);
	});

	test("two workers never collide in the same millisecond", () => {
		const now = () => SNOWFLAKE_EPOCH + 77;
		const a = new SnowflakeGenerator(1, now);
		const b = new SnowflakeGenerator(2, now);
		const ids = new Set<string>();
		for (let i = 0; i < 1000; i++) ids.add(a.next()).add(b.next());
		expect(ids.size).toBe(2000);
	});

	test("tells the millisecond of the newest ID it handed out, which a worker ID's next holder must pass", () => {
		let now = SNOWFLAKE_EPOCH + 500;
		const gen = new SnowflakeGenerator(9, () => now);
		expect(gen.lastMintedAt).toBe(0);
		gen.next();
		expect(gen.lastMintedAt).toBe(now);
		now -= 100;
		const id = gen.next();
		expect(gen.lastMintedAt).toBe(parseSnowflake(id).timestamp);
		expect(gen.lastMintedAt).toBe(now + 100);
	});

	test("started after a previous holder's last millisecond, mints nothing in it even when the clock reads it", () => {
		const last = SNOWFLAKE_EPOCH + 800;
		let now = last;
		const warnings: number[] = [];
		const gen = new SnowflakeGenerator(
			9,
			() => now,
			drift => warnings.push(drift)
		);
		gen.startAfter(last);
		expect(parseSnowflake(gen.next()).timestamp).toBe(last + 1);
		now = last + 5;
		expect(parseSnowflake(gen.next())).toMatchObject({ timestamp: last + 5, sequence: 0 });
		// A floor behind what it minted itself changes nothing.
		gen.startAfter(last);
		expect(parseSnowflake(gen.next())).toMatchObject({ timestamp: last + 5, sequence: 1 });
		expect(warnings).toEqual([]);
	});

	test.each([-1, MAX_WORKER_ID + 1, 1.5])("refuses worker ID %p", workerId => {
		expect(() => new SnowflakeGenerator(workerId)).toThrow(RangeError);
	});
});
