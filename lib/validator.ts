import { Validators } from "moleculer";

type Check = ((params: unknown, opts?: unknown) => true | unknown[] | Promise<true | unknown[]>) & { async?: boolean };

/** What a check that threw reports: the input could not be read as the declared types. */
const UNREADABLE = [{ type: "invalid", field: "", message: "The parameters could not be read as the declared types" }];

/**
 * fastest-validator turns values into strings and numbers to check or describe them; an object
 * whose own `toString` or `valueOf` is not a function makes that throw, which would reach the
 * client as a 500. Here a check that throws is a validation failure (400) like any other.
 */
export class SafeValidator extends Validators.Fastest {
	// Moleculer's Validator declares compile() as returning Function.
	// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
	compile(schema: object): Function {
		const check = super.compile(schema) as Check;
		const safe: Check = (params, opts) => {
			try {
				const result = check(params, opts);
				return check.async ? (result as Promise<true | unknown[]>).catch(() => UNREADABLE) : result;
			} catch {
				return UNREADABLE;
			}
		};
		safe.async = check.async;
		return safe;
	}
}
