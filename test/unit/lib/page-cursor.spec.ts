import { toHttpError } from "../../../lib/errors";
import {
	activityCursor,
	CURSOR_MAX_LENGTH,
	parseActivityCursor,
	parseSyncCursor,
	syncCursor
} from "../../../lib/page-cursor";

const refusal = (parse: () => unknown) => {
	try {
		parse();
	} catch (err) {
		return toHttpError(err);
	}
	throw new Error("accepted");
};

describe("page cursors", () => {
	test("round-trip, are never empty and fit the declared length", () => {
		const longestId = "single_" + "9".repeat(20) + "_" + "9".repeat(20);
		for (const id of ["", "world", longestId]) {
			const cursor = syncCursor(id);
			expect(cursor.length).toBeGreaterThan(0);
			expect(cursor.length).toBeLessThanOrEqual(CURSOR_MAX_LENGTH);
			expect(parseSyncCursor(cursor)).toBe(id);
		}
		const at = "2026-11-21T01:07:19.455Z";
		const cursor = activityCursor(at, longestId);
		expect(cursor.length).toBeLessThanOrEqual(CURSOR_MAX_LENGTH);
		expect(parseActivityCursor(cursor)).toEqual({ updatedAt: at, id: longestId });
	});

	test.each([
		["not base64 JSON", "nonsense"],
		["JSON that is not a position", Buffer.from('{"a":1}').toString("base64url")],
		["the other kind of cursor", activityCursor("2026-11-21T01:07:19.455Z", "world")],
		["an ID that is too long", Buffer.from(JSON.stringify(["s", "x".repeat(65)])).toString("base64url")]
	])("a sync cursor that is %s is 400 INVALID_INPUT", (_what, cursor) => {
		expect(refusal(() => parseSyncCursor(cursor))).toMatchObject({
			status: 400,
			body: { error: { code: "INVALID_INPUT" } }
		});
	});

	test.each([
		["a sync cursor", syncCursor("world")],
		["a time that is no time", Buffer.from(JSON.stringify(["a", "yesterday", "world"])).toString("base64url")],
		["a missing ID", Buffer.from(JSON.stringify(["a", "2026-11-21T01:07:19.455Z"])).toString("base64url")]
	])("an activity cursor that is %s is 400 INVALID_INPUT", (_what, cursor) => {
		expect(refusal(() => parseActivityCursor(cursor))).toMatchObject({
			status: 400,
			body: { error: { code: "INVALID_INPUT" } }
		});
	});
});
