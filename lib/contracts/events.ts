/** Broadcast events several services listen to. */

/** A conversation's members changed: forget cached roles and member lists of it. Payload { conversationId }. */
export const MEMBERS_CHANGED_EVENT = "members.changed";
/** task.fanout stored a dead letter. Payload: the DeadLetter (lib/contracts/channels) and its stored `id`. */
export const FANOUT_DEAD_LETTERED_EVENT = "fanout.deadLettered";
