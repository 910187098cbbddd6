import { StepFigures } from "./capacity";
import { Phase } from "./load";
import { formatSummary, summarize } from "./stats";
import { perSecond } from "./util";

/** Printing helpers shared by the modes: one phase reduced to figures and lines. */
export const log = (line: string) => console.log(line);

export const label = (name: string) => name.padEnd(25);

export function figures(phase: Phase): StepFigures {
	return {
		rate: phase.rate,
		seconds: phase.sendSeconds,
		sent: phase.sent,
		refused: phase.refused,
		failed: phase.failed + phase.timedOut,
		delivered: phase.deliveries,
		lost: phase.lost,
		receiveP99: summarize(phase.receiveMs).p99
	};
}

/** One line per --find-max step. */
export function stepLine(phase: Phase, verdict: string): string {
	const receive = summarize(phase.receiveMs);
	const ms = (v: number) => (Number.isNaN(v) ? "n/a" : `${v.toFixed(1)} ms`);
	return [
		`  ${String(phase.rate).padStart(6)} msg/s`,
		`sent ${perSecond(phase.sent, phase.sendSeconds)}/s`,
		`accepted ${perSecond(phase.accepted, phase.sendSeconds)}/s`,
		`delivered ${perSecond(phase.deliveries, phase.elapsedSeconds)} pushes/s`,
		`send-to-receive p50 ${ms(receive.p50)} p99 ${ms(receive.p99)}`,
		`lost ${phase.lost}`,
		`refused ${phase.refused}`,
		`failed ${phase.failed + phase.timedOut}`,
		verdict
	].join("  ");
}

export function errorsLine(phase: Phase): string {
	const codes = [...phase.errors].map(([code, n]) => `${code} ${n}`);
	if (phase.timedOut > 0) codes.push(`no ack in time ${phase.timedOut}`);
	return codes.length === 0 ? "none" : codes.join(", ");
}

export const latencyLine = (name: string, samples: number[]) => formatSummary(name, summarize(samples));

export function mib(value: number | null): string {
	return value === null ? "n/a" : `${value.toFixed(0)} MiB`;
}
