import { LoginThrottle, LoginThrottleLimits } from "../../../../lib/state/login-throttle";
import { MemoryStateStore } from "../../../../lib/state/memory-state-store";

describe("LoginThrottle", () => {
	let now: number;
	let throttle: LoginThrottle;
	const make = (limits: Partial<LoginThrottleLimits> = {}) =>
		new LoginThrottle(new MemoryStateStore({ now: () => now, sweepIntervalMs: 0 }), {
			pairFailures: 3,
			addressFailures: 5,
			usernameFailures: 8,
			lockoutSeconds: 10,
			...limits
		});

	beforeEach(() => {
		now = 1_000_000;
		throttle = make();
	});

	const fail = (address: string, username: string) => throttle.attempt(address, username, async () => null);
	const succeed = (address: string, username: string) => throttle.attempt(address, username, async () => "user");

	test("after the free failures, each further attempt waits twice as long as the last, up to the lockout", async () => {
		throttle = make({ addressFailures: 100, usernameFailures: 100 });
		for (let i = 0; i < 3; i++) expect(await fail("a", "alice")).toEqual({ allowed: true, result: null });
		const waits: number[] = [];
		for (let i = 0; i < 6; i++) {
			const refused = await fail("a", "alice");
			if (refused.allowed) throw new Error("expected a refusal");
			expect(refused.scope).toBe("pair");
			waits.push(refused.retryAfterSeconds);
			now += refused.retryAfterSeconds * 1000 - 1;
			expect((await succeed("a", "alice")).allowed).toBe(false);
			now += 1;
			expect((await fail("a", "alice")).allowed).toBe(true);
		}
		expect(waits).toEqual([1, 2, 4, 8, 10, 10]);
	});

	test("failures are forgotten the lockout after the last one's wait ran out", async () => {
		for (let i = 0; i < 3; i++) await fail("a", "alice");
		now += 1000 + 10_000 - 1;
		expect((await fail("a", "alice")).allowed).toBe(true);
		expect((await fail("a", "alice")).allowed).toBe(false);
		now += 2000 + 10_000;
		for (let i = 0; i < 3; i++) expect((await fail("a", "alice")).allowed).toBe(true);
	});

	test("60 concurrent guesses: only the free ones are checked, and the right one among the rest is refused", async () => {
		let checked = 0;
		const verdicts = await Promise.all(
			Array.from({ length: 60 }, (_, i) =>
				throttle.attempt("a", "alice", async () => {
					checked++;
					return i === 39 ? "user" : null;
				})
			)
		);
		expect(checked).toBe(3);
		expect(verdicts.filter(v => v.allowed)).toHaveLength(3);
		expect(verdicts[39]).toMatchObject({ allowed: false, scope: "pair" });
	});

	test("a user's own concurrent logins from one address all succeed", async () => {
		const verdicts = await Promise.all(Array.from({ length: 13 }, () => succeed("a", "alice")));
		expect(verdicts).toEqual(Array(13).fill({ allowed: true, result: "user" }));
	});

	test("an attacker's failures do not hold back the same username from another address", async () => {
		for (let i = 0; i < 3; i++) await fail("attacker", "alice");
		expect((await succeed("attacker", "alice")).allowed).toBe(false);
		expect(await succeed("victim", "alice")).toEqual({ allowed: true, result: "user" });
	});

	test("one address is throttled across usernames after its own limit", async () => {
		for (let i = 0; i < 5; i++) expect((await fail("a", `user${i}`)).allowed).toBe(true);
		expect(await fail("a", "fresh")).toMatchObject({ allowed: false, scope: "address", retryAfterSeconds: 1 });
		expect((await fail("b", "fresh")).allowed).toBe(true);
	});

	test("the username ceiling holds for every address once failures from many reach it", async () => {
		for (let i = 0; i < 8; i++) expect((await fail(`addr${i}`, "alice")).allowed).toBe(true);
		expect(await succeed("elsewhere", "alice")).toMatchObject({ allowed: false, scope: "username" });
	});

	test("refused attempts count nowhere", async () => {
		for (let i = 0; i < 3; i++) await fail("a", "alice");
		for (let i = 0; i < 20; i++) expect((await fail("a", "alice")).allowed).toBe(false);
		// Had the refusals counted, the address (5) and username (8) limits would refuse these.
		expect((await fail("a", "bob")).allowed).toBe(true);
		expect((await fail("b", "alice")).allowed).toBe(true);
	});

	test("a success clears its (address, username) counter and takes its attempt back from the others", async () => {
		for (let i = 0; i < 2; i++) await fail("a", "alice");
		await succeed("a", "alice");
		for (let i = 0; i < 3; i++) expect((await fail("a", "alice")).allowed).toBe(true);
		// The address holds 2 + 3 failures now (the success was taken back): at its limit of 5.
		expect(await fail("a", "bob")).toMatchObject({ allowed: false, scope: "address" });
	});

	test("an attempt without a verdict counts nowhere, and its error reaches the caller", async () => {
		for (let i = 0; i < 3; i++) {
			await expect(
				throttle.attempt("a", "alice", async () => {
					throw new Error("overloaded");
				})
			).rejects.toThrow("overloaded");
		}
		for (let i = 0; i < 3; i++) expect((await fail("a", "alice")).allowed).toBe(true);
	});
});
