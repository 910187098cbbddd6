import { attemptsTtl, attemptWait, decideAttempt, decodeAttempts, encodeAttempts } from "../../../lib/backoff";

const policy = { free: 3, baseMs: 1000, maxMs: 8000, memoryMs: 60_000 };

describe("backoff", () => {
	test("the free attempts wait nothing; then the wait doubles from baseMs up to maxMs", () => {
		const waits = [0, 1, 2, 3, 4, 5, 6, 7, 50, 5000].map(count => attemptWait(policy, { count, lastAt: 0 }, 0));
		expect(waits).toEqual([0, 0, 0, 1000, 2000, 4000, 8000, 8000, 8000, 8000]);
	});

	test("the wait runs from the last attempt", () => {
		expect(attemptWait(policy, { count: 4, lastAt: 10_000 }, 11_500)).toBe(500);
		expect(attemptWait(policy, { count: 4, lastAt: 10_000 }, 12_000)).toBe(0);
		expect(attemptWait(policy, null, 0)).toBe(0);
	});

	test("a key lives for its wait and then its memory", () => {
		expect(attemptsTtl(policy, 1)).toBe(60_000);
		expect(attemptsTtl(policy, 5)).toBe(64_000);
	});

	test("an attempt is refused by the counter with the longest wait, or allowed when none waits", () => {
		const loose = { ...policy, free: 100 };
		expect(decideAttempt([policy, loose], [{ count: 2, lastAt: 0 }, null], 0)).toEqual({
			allowed: true,
			retryAfterMs: 0,
			refusedBy: -1
		});
		const strict = { ...policy, free: 1 };
		expect(
			decideAttempt(
				[policy, strict],
				[
					{ count: 3, lastAt: 0 },
					{ count: 3, lastAt: 0 }
				],
				0
			)
		).toEqual({ allowed: false, retryAfterMs: 4000, refusedBy: 1 });
	});

	test("state round-trips through its string form; garbage reads as no state", () => {
		expect(decodeAttempts(encodeAttempts({ count: 7, lastAt: 1_732_000_000_123 }))).toEqual({
			count: 7,
			lastAt: 1_732_000_000_123
		});
		expect(decodeAttempts(null)).toBeNull();
		expect(decodeAttempts("nonsense")).toBeNull();
	});
});
