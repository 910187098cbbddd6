/** Broadcast events several services listen to. */

/** A conversation's members changed: forget cached roles and member lists of it. Payload { conversationId }. */
export const MEMBERS_CHANGED_EVENT = "members.changed";
/** A gateway node's users went offline all at once (the node vanished). Payload { userIds }. */
export const USERS_OFFLINE_EVENT = "presence.offline";
