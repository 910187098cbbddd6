import { toHttpError } from "../../../../lib/errors";
import { parseRate } from "../../../../lib/rate-limit";
import {
	CUT_OFF_SECONDS,
	GatewayLimits,
	REFUSALS_BEFORE_CUT,
	SocketSlots
} from "../../../../services/gateway/gateway-limits";

const refusal = (run: () => void) => {
	try {
		run();
	} catch (err) {
		return toHttpError(err);
	}
	throw new Error("expected a refusal");
};

describe("SocketSlots", () => {
	test("caps sockets per user and per address, and a release frees the slot once", () => {
		const slots = new SocketSlots(2, 3);
		const first = slots.take("u1", "10.0.0.1");
		slots.take("u1", "10.0.0.1");
		expect(refusal(() => slots.take("u1", "10.0.0.2")).body.error).toEqual({
			code: "RATE_LIMITED",
			message: "Too many open sockets for this user (at most 2)"
		});
		slots.take("u2", "10.0.0.1");
		expect(refusal(() => slots.checkAddress("10.0.0.1")).status).toBe(429);
		first();
		first();
		expect(slots.sockets("u1")).toBe(1);
		slots.take("u3", "10.0.0.1");
		expect(refusal(() => slots.take("u4", "10.0.0.1")).body.error.message).toContain("from this address");
	});

	test("forgets users and addresses with no sockets left", () => {
		const slots = new SocketSlots(5, 5);
		const releases = ["a", "b", "c"].map(user => slots.take(user, `10.0.0.${user.charCodeAt(0)}`));
		releases.forEach(release => release());
		expect(slots.counted).toEqual({ users: 0, addresses: 0 });
	});
});

describe("GatewayLimits", () => {
	// A stopped clock: a slow run must not refill a bucket between two takes the test expects to be refused.
	const limits = (socket: string, user: string) =>
		new GatewayLimits(
			{
				sendRateSocket: parseRate(socket),
				sendRateUser: parseRate(user),
				socketEventRate: parseRate("2/1m"),
				socketsPerUser: 20,
				socketsPerAddress: 500,
				jsonMaxDepth: 10
			},
			() => 1_000_000
		);

	test("a socket past its own send rate does not spend its user's", () => {
		const gate = limits("2/1m", "3/1m");
		gate.admitSend("s1", "u");
		gate.admitSend("s1", "u");
		const refused = refusal(() => gate.admitSend("s1", "u"));
		expect(refused.status).toBe(429);
		expect(refused.body.error).toMatchObject({ code: "RATE_LIMITED", details: { retryAfter: 30 } });
		gate.admitSend(null, "u");
		expect(refusal(() => gate.admitSend("s2", "u")).body.error.message).toContain("from this user");
	});

	test("other events count per socket; off means unlimited", () => {
		const gate = limits("off", "off");
		gate.admitEvent("s1");
		gate.admitEvent("s1");
		expect(refusal(() => gate.admitEvent("s1")).body.error.code).toBe("RATE_LIMITED");
		gate.admitEvent("s2");
		for (let i = 0; i < 1000; i++) gate.admitSend("s1", "u");
	});

	test("a socket drawing more refusals than REFUSALS_BEFORE_CUT allows is to be cut off; its user is kept out for a while", () => {
		const gate = limits("off", "off");
		for (let i = 0; i < REFUSALS_BEFORE_CUT.count; i++) expect(gate.refused("s1")).toBe(false);
		expect(gate.refused("s1")).toBe(true);
		expect(gate.refused("s2")).toBe(false);

		gate.cutOff("u", 1_000);
		const refused = refusal(() => gate.checkNotCutOff("u", 2_000));
		expect(refused.body.error).toMatchObject({
			code: "RATE_LIMITED",
			details: { retryAfter: CUT_OFF_SECONDS - 1 }
		});
		gate.checkNotCutOff("other", 2_000);
		gate.checkNotCutOff("u", 1_000 + CUT_OFF_SECONDS * 1000);
	});
});
