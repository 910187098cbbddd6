import { Probe, recoveredAt } from "../../../scripts/bench/recovery";

/** Probes every 50 ms from t=0, with the given ack times (undefined: not answered yet). */
const probes = (acks: Array<number | undefined>, ok = true): Probe[] =>
	acks.map((ackMs, i) => ({ sentAt: i * 50, ackMs, ok: ackMs === undefined ? undefined : ok }));

describe("recovery after an overload", () => {
	test("the first window of consecutive fast, accepted probes marks the recovery", () => {
		const acks = [900, 700, 400, 120, 30, 20, 10, 10, 10];
		expect(recoveredAt(probes(acks), 3, 50, 10000)).toBe(4 * 50);
	});

	test("one slow probe in the window is enough to miss the p99", () => {
		expect(recoveredAt(probes([10, 10, 60, 10, 10]), 3, 50, 10000)).toBeNull();
	});

	test("refused probes do not count as service", () => {
		expect(recoveredAt(probes([10, 10, 10], false), 3, 50, 10000)).toBeNull();
	});

	test("undecided while a young probe is pending, decided once it is too old to pass", () => {
		const pending = probes([10, 10, undefined]);
		expect(recoveredAt(pending, 3, 50, 100 + 20)).toBeUndefined();
		expect(recoveredAt(pending, 3, 50, 100 + 60)).toBeNull();
	});
});
