import { setImmediate as nextTick } from "timers/promises";

/** A failure the bench explains in one line: printed without a stack. */
export class BenchError extends Error {}

export const sleep = (ms: number) => new Promise<void>(resolve => setTimeout(resolve, ms));

/** Lets sockets and timers run in the middle of a long synchronous stretch. */
export const yieldToEvents = () => nextTick();

/** Runs `fn` over the items with at most `limit` of them in flight at once. */
export async function mapLimit<T, R>(
	items: T[],
	limit: number,
	fn: (item: T, index: number) => Promise<R>
): Promise<R[]> {
	const results = new Array<R>(items.length);
	let next = 0;
	const worker = async () => {
		while (next < items.length) {
			const index = next++;
			results[index] = await fn(items[index], index);
		}
	};
	await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
	return results;
}

export const perSecond = (count: number, seconds: number) => (seconds > 0 ? (count / seconds).toFixed(0) : "n/a");
