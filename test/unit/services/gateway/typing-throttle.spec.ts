import { TYPING_REMEMBERED, TypingThrottle } from "../../../../services/gateway/typing-throttle";

describe("TypingThrottle", () => {
	test("one notice per conversation per interval; others are not held back", () => {
		const throttle = new TypingThrottle(1000);
		expect(throttle.waitMs("a", 0)).toBe(0);
		throttle.hold("a", 0);
		expect(throttle.waitMs("a", 400)).toBe(600);
		expect(throttle.waitMs("b", 400)).toBe(0);
		expect(throttle.waitMs("a", 1000)).toBe(0);
	});

	test("a notice that failed gives its window back, so it is not remembered", () => {
		const throttle = new TypingThrottle(1000);
		const giveBack = throttle.hold("not-a-member", 0);
		giveBack();
		expect(throttle.size).toBe(0);
		expect(throttle.waitMs("not-a-member", 1)).toBe(0);
	});

	test("20,000 distinct conversations keep at most the bound, dropping the least recently typed in", () => {
		const throttle = new TypingThrottle(1000);
		for (let i = 0; i < 20_000; i++) throttle.hold(`c${i}`, i);
		expect(throttle.size).toBe(TYPING_REMEMBERED);
		expect(throttle.waitMs("c19999", 19_999)).toBe(1000);
		expect(throttle.waitMs("c0", 19_999)).toBe(0);
	});

	test("typing in a remembered conversation again makes it the newest", () => {
		const throttle = new TypingThrottle(10, 2);
		throttle.hold("a", 0);
		throttle.hold("b", 1);
		throttle.hold("a", 20);
		throttle.hold("c", 21);
		expect(throttle.waitMs("a", 22)).toBe(8);
		expect(throttle.waitMs("b", 2)).toBe(0);
	});
});
