/**
 * How --find-max walks the rates, and when a step passes: pure functions, so the search is tested
 * without a server.
 */
export interface SearchPlan {
	start: number;
	factor: number;
	maxRate: number;
	maxSteps: number;
	/** Steps spent between the highest pass and the lowest failure once both are known. */
	refine: number;
}

export interface StepOutcome {
	rate: number;
	pass: boolean;
}

/** Below this a first failure stops halving: the server is not handling load at all. */
export const MIN_RATE = 10;
/** A bracket narrower than this share of the passing rate is not worth another step. */
const MIN_GAP = 0.05;

/**
 * The next rate to try, or null when the search is over: up by `factor` until a step fails (or
 * `maxRate`), down by halves while nothing has passed, then `refine` midpoints between the highest
 * pass and the lowest failure. Never more than `maxSteps` steps.
 */
export function nextRate(plan: SearchPlan, history: StepOutcome[]): number | null {
	if (history.length >= plan.maxSteps) return null;
	if (history.length === 0) return Math.min(plan.start, plan.maxRate);
	const fails = history.filter(s => !s.pass).map(s => s.rate);
	if (fails.length === 0) {
		const last = history[history.length - 1].rate;
		return last >= plan.maxRate ? null : Math.min(Math.round(last * plan.factor), plan.maxRate);
	}
	const lowestFail = Math.min(...fails);
	const best = capacity(history);
	if (best === 0) {
		const lower = Math.round(lowestFail / 2);
		return lower >= MIN_RATE ? lower : null;
	}
	const bracketedAt = history.findIndex(
		(_, i) => history.slice(0, i + 1).some(s => s.pass) && history.slice(0, i + 1).some(s => !s.pass)
	);
	if (history.length - 1 - bracketedAt >= plan.refine) return null;
	const mid = Math.round((best + lowestFail) / 2);
	return lowestFail - best > best * MIN_GAP && mid > best && mid < lowestFail ? mid : null;
}

/** The highest rate that passed below every failure (0 when none did). */
export function capacity(history: StepOutcome[]): number {
	const lowestFail = Math.min(...history.filter(s => !s.pass).map(s => s.rate));
	return Math.max(0, ...history.filter(s => s.pass && s.rate < lowestFail).map(s => s.rate));
}

/** What one step measured, reduced to what the criterion needs. */
export interface StepFigures {
	rate: number;
	seconds: number;
	sent: number;
	refused: number;
	failed: number;
	delivered: number;
	lost: number;
	receiveP99: number;
}

/** The generator must issue this share of the asked sends, or the step measured the client, not the server. */
export const MIN_SENT_SHARE = 0.95;

/** A step passes when every send was accepted and delivered, in time, at (nearly) the asked rate. */
export function judge(f: StepFigures, p99LimitMs: number): { pass: boolean; reason: string } {
	const reasons: string[] = [];
	if (f.refused > 0) reasons.push(`${f.refused} refused`);
	if (f.failed > 0) reasons.push(`${f.failed} failed`);
	if (f.lost > 0) reasons.push(`${f.lost} lost`);
	if (f.delivered === 0) reasons.push("nothing delivered");
	else if (!(f.receiveP99 < p99LimitMs)) reasons.push(`p99 ${f.receiveP99.toFixed(0)} ms >= ${p99LimitMs} ms`);
	if (f.sent < f.rate * f.seconds * MIN_SENT_SHARE)
		reasons.push(`generator sent only ${(f.sent / f.seconds).toFixed(0)}/s`);
	return { pass: reasons.length === 0, reason: reasons.length === 0 ? "pass" : reasons.join(", ") };
}
