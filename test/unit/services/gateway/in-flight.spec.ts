import { InFlightEvents } from "../../../../services/gateway/in-flight";

describe("InFlightEvents", () => {
	test("an event answers once; settled resolves when the last one answered", async () => {
		const events = new InFlightEvents();
		const replies: unknown[] = [];
		const answer = events.begin("message:send", reply => replies.push(reply));
		const settled = events.settled(Date.now() + 5000);
		answer({ ok: true });
		answer({ ok: true, again: true });
		expect(await settled).toBe(true);
		expect(replies).toEqual([{ ok: true }]);
	});

	test("at the deadline the rest are answered with the refusal, and their late results are dropped", async () => {
		const events = new InFlightEvents();
		const replies: unknown[] = [];
		const late = events.begin("message:send", reply => replies.push(reply));
		events.begin("sync", null);
		expect(events.describe()).toBe("1 message:send, 1 sync");
		expect(await events.settled(Date.now() + 20)).toBe(false);
		events.answerAll({ ok: false });
		late({ ok: true });
		expect(replies).toEqual([{ ok: false }]);
		expect(events.size).toBe(0);
	});
});
