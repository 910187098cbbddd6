/** Latency summaries for the benchmark: percentiles over recorded samples, in milliseconds. */
export interface Summary {
	count: number;
	p50: number;
	p95: number;
	p99: number;
	max: number;
}

export function summarize(samples: number[]): Summary {
	if (samples.length === 0) return { count: 0, p50: NaN, p95: NaN, p99: NaN, max: NaN };
	const sorted = [...samples].sort((a, b) => a - b);
	const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
	return { count: sorted.length, p50: at(0.5), p95: at(0.95), p99: at(0.99), max: sorted[sorted.length - 1] };
}

export function formatSummary(name: string, s: Summary): string {
	if (s.count === 0) return `${name.padEnd(24)} none (n=0)`;
	const ms = (v: number) => `${v.toFixed(1)} ms`;
	return `${name.padEnd(24)} p50 ${ms(s.p50)}  p95 ${ms(s.p95)}  p99 ${ms(s.p99)}  max ${ms(s.max)}  (n=${s.count})`;
}
