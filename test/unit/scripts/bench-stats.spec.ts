import { summarize } from "../../../scripts/bench/stats";

describe("benchmark percentiles", () => {
	test("nearest-rank percentiles over the samples", () => {
		const samples = Array.from({ length: 100 }, (_, i) => 100 - i);
		expect(summarize(samples)).toEqual({ count: 100, p50: 50, p95: 95, p99: 99, max: 100 });
	});

	test("no samples gives no numbers rather than zeros", () => {
		expect(summarize([]).p50).toBeNaN();
	});
});
