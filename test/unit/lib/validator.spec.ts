import { ServiceBroker } from "moleculer";
import { toHttpError } from "../../../lib/errors";
import { SafeValidator } from "../../../lib/validator";

describe("SafeValidator", () => {
	const broker = new ServiceBroker({ logger: false, validator: new SafeValidator() });
	broker.createService({
		name: "probe",
		actions: {
			echo: {
				params: { seq: { type: "number", convert: true }, name: { type: "string", min: 3 } },
				handler: ctx => ctx.params
			}
		}
	});
	beforeAll(() => broker.start());
	afterAll(() => broker.stop());

	it("refuses, as a validation error (400), values that throw when read as text or numbers", async () => {
		for (const params of [
			{ seq: { toString: {} }, name: "abc" },
			{ seq: 1, name: [{ toString: "x" }] },
			{ seq: { valueOf: 1 }, name: "abc" }
		]) {
			const err = await broker.call("probe.echo", params).catch(e => e);
			expect(toHttpError(err)).toMatchObject({ status: 400, body: { error: { code: "INVALID_INPUT" } } });
		}
	});

	it("still validates and converts ordinary input", async () => {
		await expect(broker.call("probe.echo", { seq: "5", name: "abc" })).resolves.toEqual({ seq: 5, name: "abc" });
		const err = await broker.call("probe.echo", { seq: 1, name: "ab" }).catch(e => e);
		expect(toHttpError(err).body.error.code).toBe("INVALID_INPUT");
	});
});
