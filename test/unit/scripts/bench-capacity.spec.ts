import {
	capacity,
	judge,
	MIN_RATE,
	nextRate,
	SearchPlan,
	StepFigures,
	StepOutcome
} from "../../../scripts/bench/capacity";

const plan: SearchPlan = { start: 250, factor: 1.5, maxRate: 20000, maxSteps: 12, refine: 1 };

/** Walks the search against a server that passes every rate up to `limit`. */
function walk(limit: number, p: SearchPlan = plan): StepOutcome[] {
	const history: StepOutcome[] = [];
	for (let rate = nextRate(p, history); rate !== null; rate = nextRate(p, history))
		history.push({ rate, pass: rate <= limit });
	return history;
}

describe("find-max search", () => {
	test("rises by the factor until a step fails, then refines once between the last pass and the first failure", () => {
		const rates = walk(1000).map(s => s.rate);
		expect(rates).toEqual([250, 375, 563, 845, 1268, 1057]);
		expect(capacity(walk(1000))).toBe(845);
	});

	test("a passing refinement becomes the capacity", () => {
		expect(capacity(walk(1100))).toBe(1057);
	});

	test("halves while nothing passes, then refines above the first pass", () => {
		const history = walk(100);
		expect(history.map(s => s.rate)).toEqual([250, 125, 63, 94]);
		expect(capacity(history)).toBe(94);
	});

	test("gives up below the minimum rate when nothing passes at all", () => {
		const history = walk(0);
		expect(history.every(s => !s.pass)).toBe(true);
		expect(history[history.length - 1].rate).toBeGreaterThanOrEqual(MIN_RATE);
		expect(capacity(history)).toBe(0);
	});

	test("stops at the maximum rate and at the step cap", () => {
		expect(walk(Infinity, { ...plan, maxRate: 600 }).map(s => s.rate)).toEqual([250, 375, 563, 600]);
		expect(walk(Infinity, { ...plan, maxSteps: 3 })).toHaveLength(3);
	});

	test("more refinement steps narrow the bracket further; none stops at the first failure", () => {
		expect(walk(1000, { ...plan, refine: 0 }).map(s => s.rate)).toEqual([250, 375, 563, 845, 1268]);
		expect(walk(1000, { ...plan, refine: 3 }).map(s => s.rate)).toEqual([
			250, 375, 563, 845, 1268, 1057, 951, 1004
		]);
	});

	test("a pass above a failure does not count as capacity", () => {
		expect(
			capacity([
				{ rate: 250, pass: true },
				{ rate: 375, pass: false },
				{ rate: 500, pass: true }
			])
		).toBe(250);
	});
});

describe("step criterion", () => {
	const clean: StepFigures = {
		rate: 500,
		seconds: 10,
		sent: 5000,
		refused: 0,
		failed: 0,
		delivered: 13000,
		lost: 0,
		receiveP99: 20
	};

	test("everything accepted and delivered in time passes", () => {
		expect(judge(clean, 50)).toEqual({ pass: true, reason: "pass" });
	});

	test("each way to fail is named", () => {
		expect(judge({ ...clean, receiveP99: 50 }, 50).reason).toBe("p99 50 ms >= 50 ms");
		expect(judge({ ...clean, lost: 3, refused: 2, failed: 1 }, 50).reason).toBe("2 refused, 1 failed, 3 lost");
		expect(judge({ ...clean, delivered: 0, receiveP99: NaN }, 50).reason).toBe("nothing delivered");
	});

	test("a generator that fell behind fails the step rather than flattering the server", () => {
		expect(judge({ ...clean, seconds: 12 }, 50)).toEqual({ pass: false, reason: "generator sent only 417/s" });
	});
});
