/**
 * Counts events since start and their rate over the last few seconds, one bucket per second, so
 * marking costs a few operations however busy the node is.
 */
export class RateMeter {
	total = 0;
	private readonly buckets: number[];
	private bucketSecond: number;

	constructor(
		private readonly windowSeconds = 5,
		private readonly now: () => number = Date.now
	) {
		this.buckets = new Array<number>(windowSeconds).fill(0);
		this.bucketSecond = Math.floor(now() / 1000);
	}

	mark(): void {
		this.advance();
		this.total++;
		this.buckets[this.bucketSecond % this.windowSeconds]++;
	}

	/** Events per second over the last `windowSeconds` seconds, the current one included. */
	perSecond(): number {
		this.advance();
		const sum = this.buckets.reduce((a, b) => a + b, 0);
		return sum / this.windowSeconds;
	}

	/** Empties the buckets of the seconds that passed since the last mark. */
	private advance(): void {
		const second = Math.floor(this.now() / 1000);
		const passed = Math.min(second - this.bucketSecond, this.windowSeconds);
		for (let i = 1; i <= passed; i++) this.buckets[(this.bucketSecond + i) % this.windowSeconds] = 0;
		this.bucketSecond = Math.max(second, this.bucketSecond);
	}
}
