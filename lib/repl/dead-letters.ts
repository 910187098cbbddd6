import type { ServiceBroker } from "moleculer";
import type { StoredDeadLetter } from "../contracts/repo";
import { GochatCommand, UsageError } from "./cluster";
import { callFrom } from "../contracts";

/** How many dead letters `gochat dead` lists; the total is always shown. */
export const DEAD_LIST_LIMIT = 50;

export function listDeadLetters(
	broker: ServiceBroker,
	limit = DEAD_LIST_LIMIT
): Promise<{ total: number; letters: StoredDeadLetter[] }> {
	return callFrom(broker, "task.fanout.deadLetters", { limit });
}

/** Sends every dead letter back to its channel; returns how many. */
export function replayDeadLetters(broker: ServiceBroker): Promise<number> {
	return callFrom(broker, "task.fanout.replay", {});
}

/** Forgets every dead letter; returns how many. */
export function dropDeadLetters(broker: ServiceBroker): Promise<number> {
	return callFrom(broker, "task.fanout.drop", {});
}

export const deadLetterCommands: GochatCommand[] = [
	{
		name: "dead",
		usage: "dead [replay|drop]",
		description: "lists dead-lettered fan-out jobs, or replays or drops them all",
		async run(broker, args) {
			switch (args[0]) {
				case "replay":
					return [`Replayed ${await replayDeadLetters(broker)} dead letter(s)`];
				case "drop":
					return [`Dropped ${await dropDeadLetters(broker)} dead letter(s)`];
				case undefined: {
					const { total, letters } = await listDeadLetters(broker);
					if (total === 0) return ["No dead letters"];
					const shown = letters.length < total ? ` (the first ${letters.length})` : "";
					return [
						`${total} dead letter(s)${shown}`,
						{
							table: [
								["id", "at", "channel", "attempts", "error"],
								...letters.map(l => [l.id, l.createdAt, l.channel, l.attempts, l.error])
							]
						}
					];
				}
				default:
					throw new UsageError(`unknown "${args[0]}": gochat dead [replay|drop]`);
			}
		}
	}
];
