import type { ServiceBroker } from "moleculer";
import type { GatewayStats } from "../contracts/gateway";
import type { SendStats } from "../contracts/logic";
import type { FanoutStats } from "../contracts/task";
import { callEveryNode, failedRow, GochatCommand, NodeAnswer, Printable } from "./cluster";
import { callFrom } from "../contracts";

export interface ClusterStats {
	gateways: Array<NodeAnswer<GatewayStats>>;
	senders: Array<NodeAnswer<SendStats>>;
	hotCache: { hits: number; misses: number; hitRatio: number | null; failedNodes: string[] };
	fanout: Array<NodeAnswer<FanoutStats>>;
	/** Dead letters kept in SQL, the whole cluster's, or why they could not be counted. */
	deadLetters: { total: number } | { error: string };
}

/** Every node's counters: each gateway, logic, repo and task node is asked for its own. */
export async function clusterStats(broker: ServiceBroker): Promise<ClusterStats> {
	const [gateways, senders, caches, fanout, deadLetters] = await Promise.all([
		callEveryNode(broker, "api", "api.stats", {}),
		callEveryNode(broker, "messages", "messages.stats", {}),
		callEveryNode(broker, "repo.messages", "repo.messages.hotCacheStats", {}),
		callEveryNode(broker, "task.fanout", "task.fanout.stats", {}),
		callFrom(broker, "task.fanout.deadLetters", { limit: 0 }).then(
			page => ({ total: page.total }),
			(err: Error) => ({ error: err.message })
		)
	]);
	let hits = 0;
	let misses = 0;
	const failedNodes: string[] = [];
	for (const answer of caches) {
		if ("error" in answer) {
			failedNodes.push(answer.nodeId);
			continue;
		}
		hits += answer.result.hits;
		misses += answer.result.misses;
	}
	const hitRatio = hits + misses > 0 ? hits / (hits + misses) : null;
	return { gateways, senders, hotCache: { hits, misses, hitRatio, failedNodes }, fanout, deadLetters };
}

const perSecond = (value: number) => value.toFixed(1);

export function printStats(stats: ClusterStats): Printable[] {
	const { hotCache } = stats;
	const ratio = hotCache.hitRatio === null ? "no reads yet" : `${(hotCache.hitRatio * 100).toFixed(1)}%`;
	const unanswered = hotCache.failedNodes.length > 0 ? ` (no answer from ${hotCache.failedNodes.join(", ")})` : "";
	return [
		"Gateway nodes",
		{
			table: [
				["node", "sockets", "users"],
				...stats.gateways.map(a =>
					"error" in a ? failedRow(a, 3) : [a.nodeId, a.result.sockets, a.result.users]
				)
			]
		},
		"Sends (logic nodes)",
		{
			table: [
				["node", "accepted/s", "refused/s", "accepted", "refused"],
				...stats.senders.map(a =>
					"error" in a
						? failedRow(a, 5)
						: [
								a.nodeId,
								perSecond(a.result.acceptedPerSecond),
								perSecond(a.result.refusedPerSecond),
								a.result.accepted,
								a.result.refused
							]
				)
			]
		},
		`Hot cache: ${ratio} hits (${hotCache.hits} hits, ${hotCache.misses} misses)${unanswered}`,
		"Fan-out (task nodes)",
		{
			table: [
				["node", "in flight", "messages", "batches", "dead-lettered"],
				...stats.fanout.map(a =>
					"error" in a
						? failedRow(a, 5)
						: [a.nodeId, a.result.inFlight, a.result.messages, a.result.batches, a.result.deadLettered]
				)
			]
		},
		"total" in stats.deadLetters
			? `Dead letters kept: ${stats.deadLetters.total}`
			: `Dead letters: unknown (${stats.deadLetters.error})`
	];
}

export const statsCommands: GochatCommand[] = [
	{
		name: "stats",
		usage: "stats",
		description:
			"sockets and users per gateway node, sends per second, hot-cache hit ratio, fan-out in flight, dead letters",
		run: async broker => printStats(await clusterStats(broker))
	}
];
