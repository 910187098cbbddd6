import { OptionsError, parseOptions } from "../../../scripts/bench/options";
import { parseOpenFileLimits } from "../../../scripts/bench/process";

describe("bench options", () => {
	test("no flags is today's fixed load", () => {
		expect(parseOptions([])).toMatchObject({
			mode: "default",
			clients: 1000,
			rate: 500,
			duration: 20,
			warmup: 3,
			groupSize: 10,
			groupShare: 0.2
		});
	});

	test("kebab-case settings and a mode flag", () => {
		const options = parseOptions([
			"--find-max",
			"--max-rate",
			"5000",
			"--group-share",
			"0.5",
			"--url",
			"http://h:1"
		]);
		expect(options).toMatchObject({
			mode: "find-max",
			maxRate: 5000,
			groupShare: 0.5,
			url: "http://h:1",
			rate: undefined
		});
	});

	test("--overload burns for 30 s unless told otherwise; --rate skips the search", () => {
		expect(parseOptions(["--overload"])).toMatchObject({ duration: 30, rate: undefined });
		expect(parseOptions(["--overload", "--rate", "400", "--duration", "5"])).toMatchObject({
			duration: 5,
			rate: 400
		});
	});

	test("--big-group takes its size", () => {
		expect(parseOptions(["--big-group", "10000", "--messages", "3"])).toMatchObject({
			mode: "big-group",
			bigGroup: 10000,
			messages: 3
		});
	});

	test.each([
		[["--rate"]],
		[["--rate", "fast"]],
		[["--big-group"]],
		[["--compare", "--overload"]],
		[["--factor", "1"]],
		[["--nope", "1"]]
	])("%j is refused with the usage", argv => {
		expect(() => parseOptions(argv)).toThrow(OptionsError);
	});
});

describe("open-file limits", () => {
	test("soft and hard limit from /proc/<pid>/limits", () => {
		const limits =
			"Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 524288               files\n";
		expect(parseOpenFileLimits(limits)).toEqual({ soft: 1024, hard: 524288 });
		expect(parseOpenFileLimits("Max open files unlimited unlimited files")).toEqual({
			soft: Infinity,
			hard: Infinity
		});
	});
});
