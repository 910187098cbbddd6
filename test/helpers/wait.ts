/**
 * Resolves once `check()` holds, polling every `everyMs`; fails after `timeoutMs` saying what it
 * waited for. For conditions no event announces (a probe's answer, a key in etcd); answers how
 * long it took.
 */
export async function until(
	check: () => boolean | Promise<boolean>,
	what: string,
	{ timeoutMs = 15_000, everyMs = 50 }: { timeoutMs?: number; everyMs?: number } = {}
): Promise<number> {
	const started = Date.now();
	while (!(await check())) {
		if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
		await new Promise(resolve => setTimeout(resolve, everyMs));
	}
	return Date.now() - started;
}
