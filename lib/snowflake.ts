/**
 * Snowflake IDs (docs/architecture.md#identifiers): 41-bit millisecond timestamp from a custom epoch, 10-bit worker,
 * 12-bit sequence. IDs are strictly increasing per generator; when the clock goes backwards
 * the generator keeps counting from the last timestamp it used instead of reusing one.
 */
export const SNOWFLAKE_EPOCH = Date.UTC(2026, 0, 1);
export const WORKER_BITS = 10;
export const SEQUENCE_BITS = 12;
export const MAX_WORKER_ID = (1 << WORKER_BITS) - 1;
const MAX_SEQUENCE = (1 << SEQUENCE_BITS) - 1;

export interface SnowflakeParts {
	timestamp: number;
	workerId: number;
	sequence: number;
}

export class SnowflakeGenerator {
	private lastTimestamp = -1;
	private sequence = 0;

	constructor(
		readonly workerId: number,
		private readonly now: () => number = Date.now,
		private readonly onClockBackwards?: (driftMs: number) => void
	) {
		if (!Number.isInteger(workerId) || workerId < 0 || workerId > MAX_WORKER_ID) {
			throw new RangeError(`Snowflake worker ID must be an integer 0-${MAX_WORKER_ID}, got ${workerId}`);
		}
	}

	nextBigInt(): bigint {
		const clock = this.now() - SNOWFLAKE_EPOCH;
		if (clock < this.lastTimestamp) this.onClockBackwards?.(this.lastTimestamp - clock);

		if (clock > this.lastTimestamp) {
			this.lastTimestamp = clock;
			this.sequence = 0;
		} else if (this.sequence < MAX_SEQUENCE) {
			this.sequence++;
		} else {
			// Sequence exhausted in this millisecond: borrow the next one rather than block.
			this.lastTimestamp++;
			this.sequence = 0;
		}
		return (
			(BigInt(this.lastTimestamp) << BigInt(WORKER_BITS + SEQUENCE_BITS)) |
			(BigInt(this.workerId) << BigInt(SEQUENCE_BITS)) |
			BigInt(this.sequence)
		);
	}

	/**
	 * Mints nothing at or before `wallMs`, the newest millisecond a worker ID's previous holder may
	 * have minted: a clock that only just reached it (a timer may fire a millisecond early) moves on
	 * to the next millisecond instead of reusing it.
	 */
	startAfter(wallMs: number): void {
		const floor = wallMs - SNOWFLAKE_EPOCH;
		if (wallMs <= 0 || floor < this.lastTimestamp) return;
		this.lastTimestamp = floor;
		this.sequence = MAX_SEQUENCE;
	}

	/** Wall-clock millisecond of the newest ID handed out (0: none yet); a worker ID's next holder starts after it. */
	get lastMintedAt(): number {
		return this.lastTimestamp < 0 ? 0 : this.lastTimestamp + SNOWFLAKE_EPOCH;
	}

	/** IDs travel as decimal strings: JSON numbers lose precision past 2^53. */
	next(): string {
		return this.nextBigInt().toString();
	}
}

export function parseSnowflake(id: string | bigint): SnowflakeParts {
	const value = BigInt(id);
	return {
		timestamp: Number(value >> BigInt(WORKER_BITS + SEQUENCE_BITS)) + SNOWFLAKE_EPOCH,
		workerId: Number((value >> BigInt(SEQUENCE_BITS)) & BigInt(MAX_WORKER_ID)),
		sequence: Number(value & BigInt(MAX_SEQUENCE))
	};
}

/** Orders decimal ID strings numerically without losing precision. */
export function compareIds(a: string, b: string): number {
	const x = BigInt(a);
	const y = BigInt(b);
	return x < y ? -1 : x > y ? 1 : 0;
}
