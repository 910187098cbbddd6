import type { StoredDeadLetter } from "./repo";

export interface FanoutStats {
	nodeId: string;
	messages: number;
	batches: number;
	deadLettered: number;
	/** Jobs taken from the queue and not finished yet on this node. */
	inFlight: number;
}

export interface TaskActions {
	"task.fanout.stats": { params: Record<string, never>; result: FanoutStats };
	"task.fanout.deadLetters": { params: { limit: number }; result: { total: number; letters: StoredDeadLetter[] } };
	/** Sends dead letters back to their channels (all, or the given IDs) and forgets them; returns how many. */
	"task.fanout.replay": { params: { ids?: string[] }; result: number };
	"task.fanout.drop": { params: { ids?: string[] }; result: number };
	"task.maintenance.pruneSessions": { params: Record<string, never>; result: number };
	/** Deletes idle guests `batchSize` (default 500) at a time; returns how many went. */
	"task.maintenance.pruneGuests": { params: { batchSize?: number }; result: number };
}
