import { PasswordHasher } from "../../../lib/password-hasher";

describe("PasswordHasher", () => {
	const open: PasswordHasher[] = [];
	const make = (workers: number, queue: number, rounds = 4) => {
		const hasher = new PasswordHasher({ workers, queue, rounds });
		open.push(hasher);
		return hasher;
	};
	afterEach(async () => {
		await Promise.all(open.splice(0).map(h => h.close()));
	});

	test("hashes are bcrypt hashes that compare true for the password and false for another", async () => {
		const hasher = make(2, 4);
		const hash = await hasher.hash("correct horse");
		expect(hash).toMatch(/^\$2b\$04\$/);
		expect(await hasher.compare("correct horse", hash)).toBe(true);
		expect(await hasher.compare("wrong horse", hash)).toBe(false);
	});

	test("past the workers and the queue, a hash is refused at once with OVERLOADED; the others complete", async () => {
		const hasher = make(1, 2, 8);
		const results = await Promise.allSettled(Array.from({ length: 5 }, () => hasher.hash("correct horse")));
		expect(results.map(r => r.status)).toEqual(["fulfilled", "fulfilled", "fulfilled", "rejected", "rejected"]);
		const refusal = (results[3] as PromiseRejectedResult).reason;
		expect([refusal.type, refusal.code, refusal.data]).toEqual(["OVERLOADED", 503, { retryAfter: 1 }]);
		// Room again once they are done.
		expect(await hasher.compare("correct horse", (results[0] as PromiseFulfilledResult<string>).value)).toBe(true);
	});

	test("the event loop keeps turning while passwords are hashed", async () => {
		// Rounds 12 (a few hundred ms a hash): a GC pause or a busy machine stays well short of one hash.
		const hasher = make(1, 8, 12);
		let last = Date.now();
		let longestGap = 0;
		const ticker = setInterval(() => {
			longestGap = Math.max(longestGap, Date.now() - last);
			last = Date.now();
		}, 2);
		const started = Date.now();
		await Promise.all(Array.from({ length: 6 }, () => hasher.hash("correct horse")));
		clearInterval(ticker);
		// On this thread each hash would stop the loop for its whole duration; loosely, the loop never waited that long.
		const perHash = (Date.now() - started) / 6;
		expect(longestGap).toBeLessThan(perHash);
	});

	test("close refuses what runs and waits, stops the threads, and refuses later calls", async () => {
		const hasher = make(1, 4, 10);
		const refused = [
			expect(hasher.hash("one")).rejects.toThrow("closed"),
			expect(hasher.hash("two")).rejects.toThrow("closed")
		];
		await hasher.close();
		await Promise.all(refused);
		await expect(hasher.compare("x", "y")).rejects.toThrow("closed");
	});
});
