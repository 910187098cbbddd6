import type { ServiceBroker } from "moleculer";
import { ActionName, callFrom, Params, Result } from "../contracts";

/** The nodes where a service is up, sorted, so a command's rows keep their order between runs. */
export function nodesOf(broker: ServiceBroker, service: string): string[] {
	const services = broker.registry.getServiceList({ onlyAvailable: true }) as unknown as Array<{
		fullName: string;
		nodeID: string;
	}>;
	return [...new Set(services.filter(s => s.fullName === service).map(s => s.nodeID))].sort();
}

/** One node's answer, or why it gave none: one unreachable node must not hide the others. */
export type NodeAnswer<T> = { nodeId: string; result: T } | { nodeId: string; error: string };

/** Calls a per-node action on every node hosting its service. */
export function callEveryNode<A extends ActionName>(
	broker: ServiceBroker,
	service: string,
	action: A,
	params: Params<A>
): Promise<Array<NodeAnswer<Result<A>>>> {
	return Promise.all(
		nodesOf(broker, service).map(async nodeId => {
			try {
				return { nodeId, result: await callFrom(broker, action, params, { nodeID: nodeId }) };
			} catch (err) {
				return { nodeId, error: err instanceof Error ? err.message : String(err) };
			}
		})
	);
}

/** What a command prints: lines of text and tables (a header row, then rows). */
export type Printable = string | { table: Array<Array<string | number>> };

/** A subcommand of `gochat`: its logic is a plain function of the broker, so tests call it directly. */
export interface GochatCommand {
	name: string;
	/** The subcommand and its arguments, as `gochat help` shows them. */
	usage: string;
	description: string;
	run(broker: ServiceBroker, args: string[]): Promise<Printable[]>;
}

/** Thrown for a subcommand used wrongly: printed as is, without a stack. */
export class UsageError extends Error {}

export function requireArg(args: string[], index: number, name: string, usage: string): string {
	const value = args[index];
	if (value === undefined || value === "") throw new UsageError(`missing <${name}>: gochat ${usage}`);
	return value;
}

/** A table row for a node that did not answer. */
export function failedRow(answer: { nodeId: string; error: string }, columns: number): string[] {
	return [answer.nodeId, `error: ${answer.error}`, ...Array<string>(Math.max(0, columns - 2)).fill("")];
}
