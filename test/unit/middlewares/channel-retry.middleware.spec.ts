import { backoffDelay } from "../../../middlewares/channel-retry.middleware";

describe("backoffDelay", () => {
	test("doubles from the base and stops at the maximum", () => {
		const options = { baseDelayMs: 100, maxDelayMs: 1000 };
		expect([1, 2, 3, 4, 5, 6].map(attempt => backoffDelay(attempt, options))).toEqual([
			100, 200, 400, 800, 1000, 1000
		]);
	});
});
