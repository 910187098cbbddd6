import { RateMeter } from "../../../lib/rate-meter";

describe("RateMeter", () => {
	test("counts every mark, and the rate only over the last seconds of the window", () => {
		let now = 10_000;
		const meter = new RateMeter(5, () => now);
		for (let i = 0; i < 10; i++) meter.mark();
		expect(meter.perSecond()).toBe(2);
		now += 3000;
		meter.mark();
		expect(meter.perSecond()).toBe(2.2);
		now += 3000;
		expect(meter.perSecond()).toBe(0.2);
		now += 60_000;
		expect(meter.perSecond()).toBe(0);
		expect(meter.total).toBe(11);
	});
});
