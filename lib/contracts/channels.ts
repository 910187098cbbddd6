import type { Message } from "../types";

/**
 * The durable channels of large fan-out. Names carry no namespace: the channels middleware puts
 * the broker's namespace in front once, so clusters sharing a queue server stay apart.
 */
export const FANOUT_MESSAGE_CHANNEL = "fanout.message";
export const FANOUT_BATCH_CHANNEL = "fanout.batch";
export const FANOUT_DEAD_LETTER_CHANNEL = "fanout.dead";

/** A stored message on its way to its conversation's members. */
export interface FanoutJob {
	message: Message;
	exceptSocketId?: string;
}

/** Up to FANOUT_BATCH_SIZE members of a large conversation to push one message to. */
export interface BatchJob {
	message: Message;
	userIds: string[];
	exceptSocketId?: string;
}

/** A job that failed every attempt, as the retry middleware sends it to FANOUT_DEAD_LETTER_CHANNEL. */
export interface DeadLetter {
	/** The channel it came from, without namespace (what sendToChannel takes to replay it). */
	channel: string;
	payload: unknown;
	error: string;
	/** When each attempt started, ISO-8601. */
	attemptedAt: string[];
}
