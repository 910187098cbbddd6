import type { ServiceBroker } from "moleculer";
import { callEveryNode, failedRow, GochatCommand, NodeAnswer, Printable, requireArg } from "./cluster";
import { callFrom } from "../contracts";

/** The gateway nodes where presence has the user online. */
export async function whereOnline(broker: ServiceBroker, userId: string): Promise<string[]> {
	const located = await callFrom(broker, "repo.presence.locate", { userIds: [userId] });
	return [...(located[userId] ?? [])].sort();
}

export interface KickReport {
	/** Sessions ended: their refresh tokens stop working. */
	sessionsRevoked: number;
	/** Sockets disconnected on each gateway node. */
	sockets: Array<NodeAnswer<number>>;
}

/**
 * Ends every session of the user first (so no socket can reconnect with a refresh), then
 * disconnects the user's sockets on every gateway node: a token is checked only at handshake.
 */
export async function kickUser(broker: ServiceBroker, userId: string): Promise<KickReport> {
	const revoked = await callFrom(broker, "repo.sessions.revokeForUser", { userId });
	const sockets = await callEveryNode(broker, "api", "api.disconnectUser", {
		userId,
		reason: "kicked by an operator"
	});
	return { sessionsRevoked: revoked.length, sockets };
}

export const userCommands: GochatCommand[] = [
	{
		name: "online",
		usage: "online <userId>",
		description: "the gateway nodes where the user is online, with their sockets there",
		async run(broker, args) {
			const userId = requireArg(args, 0, "userId", "online <userId>");
			const nodes = await whereOnline(broker, userId);
			if (nodes.length === 0) return [`User ${userId} is offline`];
			const sockets = new Map(
				(await callEveryNode(broker, "api", "api.userSockets", { userId })).map(
					(a): [string, string | number] => [a.nodeId, "error" in a ? "?" : a.result]
				)
			);
			return [
				`User ${userId} is online on ${nodes.length} node(s)`,
				{ table: [["node", "sockets"], ...nodes.map(node => [node, sockets.get(node) ?? 0])] }
			];
		}
	},
	{
		name: "kick",
		usage: "kick <userId>",
		description: "ends the user's sessions and disconnects their sockets on every gateway node",
		async run(broker, args) {
			const userId = requireArg(args, 0, "userId", "kick <userId>");
			const report = await kickUser(broker, userId);
			const rows = report.sockets.map(a => ("error" in a ? failedRow(a, 2) : [a.nodeId, a.result]));
			const out: Printable[] = [`Ended ${report.sessionsRevoked} session(s) of user ${userId}`];
			out.push({ table: [["node", "sockets disconnected"], ...rows] });
			return out;
		}
	}
];
