import { LoginLimiter } from "../../../../lib/state/login-limiter";
import { MemoryStateStore } from "../../../../lib/state/memory-state-store";

describe("LoginLimiter", () => {
	let now: number;
	let limiter: LoginLimiter;

	beforeEach(() => {
		now = 1_000_000;
		limiter = new LoginLimiter(new MemoryStateStore(() => now), 3, 60);
	});

	test("locks a username after the allowed failures, for the rest of the window", async () => {
		for (let i = 0; i < 2; i++) await limiter.recordFailure("alice");
		expect(await limiter.retryAfter("alice")).toBe(0);
		await limiter.recordFailure("alice");
		expect(await limiter.retryAfter("alice")).toBe(60);
		now += 45_000;
		expect(await limiter.retryAfter("alice")).toBe(15);
		now += 15_000;
		expect(await limiter.retryAfter("alice")).toBe(0);
	});

	test("failures of one username do not lock another", async () => {
		for (let i = 0; i < 3; i++) await limiter.recordFailure("alice");
		expect(await limiter.retryAfter("bob")).toBe(0);
	});

	test("a success resets the count", async () => {
		await limiter.recordFailure("alice");
		await limiter.recordFailure("alice");
		await limiter.reset("alice");
		await limiter.recordFailure("alice");
		await limiter.recordFailure("alice");
		expect(await limiter.retryAfter("alice")).toBe(0);
	});
});
