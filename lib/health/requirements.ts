/**
 * The services each GoChat service calls (or, for the queue, whose channel it feeds): a process is
 * ready only when those it does not run itself are available in the registry. The gateway ("api")
 * lists everything behind its routes and socket events, since a client can reach all of it.
 * test/unit/lib/health/requirements.spec.ts reads every service file and fails when a call is
 * missing here.
 */
export const SERVICE_NEEDS: Record<string, readonly string[]> = {
	api: [
		"auth",
		"users",
		"conversations",
		"messages",
		"groups",
		"delivery",
		"presence",
		"repo.database",
		"repo.users",
		"repo.sessions",
		"repo.conversations",
		"repo.groups",
		"repo.members",
		"repo.messages",
		"repo.presence",
		"task.fanout"
	],
	auth: ["repo.members", "repo.sessions", "repo.users"],
	conversations: ["delivery", "repo.conversations", "repo.groups", "repo.members", "repo.messages", "repo.users"],
	// Large groups and the world room go through the queue to task.fanout.
	delivery: ["repo.members", "repo.presence", "task.fanout"],
	groups: ["repo.groups", "repo.members", "repo.users"],
	messages: ["delivery", "repo.conversations", "repo.messages"],
	presence: ["delivery", "repo.members", "repo.presence"],
	users: ["repo.users"],
	"task.fanout": ["delivery", "repo.deadLetters", "repo.members"],
	"task.maintenance": ["repo.members", "repo.sessions", "repo.users"]
};

/** The services the local ones need and this process does not run, in a stable order. */
export function remoteNeeds(localServices: Iterable<string>): string[] {
	const local = new Set(localServices);
	const needed = new Set<string>();
	for (const name of local) for (const need of SERVICE_NEEDS[name] ?? []) if (!local.has(need)) needed.add(need);
	return [...needed].sort();
}
